"""A client's invoices as the portal asks for them: billing's gRPC server in this process
(the same interceptor as in production), called through the typed `BillingClient` with client
users' tokens. Client X and client Y of one agency, and client Z of another agency, each with a
sent invoice made through billing's API (stripe-mock for Stripe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agencyos.common.auth import Principal
from agencyos.common.peers.billing import BillingClient
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.invoicing import Books

MakeBooks = Any


@dataclass(frozen=True)
class ClientBooks:
    books: Books
    user: Caller  # a client user of the books' client
    invoice: dict[str, Any]  # a sent invoice of it (two lines: 10,000 and 2 x 2,500)


@dataclass
class Scene:
    billing: BillingClient
    in_process: InProcess
    tenant: Agency
    x: ClientBooks
    y: ClientBooks  # another client of the same agency
    z: ClientBooks  # a client of another agency

    async def principal(self, who: Caller) -> Principal:
        service = await self.in_process.service("billing")
        return await service.ctx.verifier.verify(who.access_token)


async def client_books(make_books: MakeBooks, agency: Agency) -> ClientBooks:
    books: Books = make_books(agency.owner)
    draft = await books.manual_draft(10_000)
    response = await books.gateway.post(
        f"/v1/invoices/{draft['id']}/lines",
        json={"description": "Hosting, per month", "quantity": "2", "unit_price_cents": 2_500},
        headers=books.agency.headers,
    )
    assert response.status_code == 201, response.text
    invoice = await books.sent(draft["id"])
    user = agency.caller("client", client_id=books.client_id)
    return ClientBooks(books, user, invoice)


@pytest.fixture
async def scene(
    in_process: InProcess,
    billing: httpx.AsyncClient,
    make_books: MakeBooks,
    tenant: Agency,
    other_tenant: Agency,
) -> Scene:
    target = await in_process.grpc_target("billing")
    return Scene(
        BillingClient(target, 30.0),
        in_process,
        tenant,
        await client_books(make_books, tenant),
        await client_books(make_books, tenant),
        await client_books(make_books, other_tenant),
    )
