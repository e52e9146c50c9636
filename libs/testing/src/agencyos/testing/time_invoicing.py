"""Calling time's invoicing gRPC (what billing uses) in tests: an agency's client with EUR and
USD projects and a member whose approved time is seeded, and the calls with the caller's
token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    as_caller,
    create_crm_client,
    new_project,
)
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows
from agencyos.testing.time_entries import seed_time_entry

DAY = date(2026, 11, 2)


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@dataclass
class Books:
    """An agency with a client, a person, and the client's projects: `eur` (work rate 12 000,
    EUR) and `usd` (no rate in work, USD, so the agency rate 10 000 applies)."""

    agency: AgencySession
    person: AgencySession
    client_id: uuid.UUID
    eur: uuid.UUID
    usd: uuid.UUID
    platform: Platform

    async def entry(
        self,
        *,
        project: uuid.UUID | None = None,
        day: date = DAY,
        seconds: int = 3_600,
        status: str = "approved",
        billable: bool = True,
        client_id: uuid.UUID | None = None,
        user: AgencySession | None = None,
        rate: int | None = None,
        currency: str | None = None,
    ) -> uuid.UUID:
        return await seed_time_entry(
            self.platform,
            self.agency,
            user_id=(user or self.person).user_id,
            project_id=project or self.eur,
            client_id=client_id or self.client_id,
            day=day,
            duration_seconds=seconds,
            status=status,
            is_billable=billable,
            billable_rate_cents=rate,
            currency=currency,
        )

    async def rows(self, query: str, *args: Any) -> list[Any]:
        return await fetch_rows(
            self.platform.infra,
            self.platform.database("time"),
            query,
            *args,
            tenant_id=self.agency.agency_id,
        )

    async def holders(self, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
        rows = await self.rows(
            "SELECT id, invoice_id FROM time_entries WHERE id = ANY($1)", entry_ids
        )
        return {r["id"]: r["invoice_id"] for r in rows}


def selection(books: Books, **fields: Any) -> time_pb2.EntrySelection:
    return time_pb2.EntrySelection(client_id=str(books.client_id), **fields)


async def unbilled(
    stub: time_pb2_grpc.TimeServiceStub, books: Books, **fields: Any
) -> dict[uuid.UUID, time_pb2.BillableEntry]:
    response = await stub.ListUnbilledEntries(
        selection(books, **fields), metadata=as_caller(books.agency), timeout=10
    )
    return {uuid.UUID(e.id): e for e in response.entries}


async def reserve(
    stub: time_pb2_grpc.TimeServiceStub,
    books: Books,
    invoice_id: uuid.UUID,
    entry_ids: list[uuid.UUID] | None = None,
    **fields: Any,
) -> set[uuid.UUID]:
    response = await stub.ReserveEntries(
        time_pb2.ReserveEntriesRequest(
            invoice_id=str(invoice_id),
            selection=selection(books, **fields),
            entry_ids=[str(i) for i in entry_ids or []],
        ),
        metadata=as_caller(books.agency),
        timeout=30,
    )
    return {uuid.UUID(e.id) for e in response.entries}


def summary(entry: time_pb2.BillableEntry) -> tuple[int, str, int, str]:
    return (entry.rate_cents, entry.currency, entry.amount_cents, entry.rate_source)


async def new_books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    """The agency's `Books`: a member, a CRM client, its EUR and USD projects, and an agency
    billable rate of 10 000 from 2026-01-01."""
    person = await add_member(platform, gateway, agency, "member")
    client_id = await create_crm_client(platform, agency)
    eur = await new_project(
        gateway,
        agency,
        person,
        client_id=str(client_id),
        billing_type="hourly",
        hourly_rate_cents=12_000,
        currency="EUR",
    )
    usd = await new_project(
        gateway, agency, person, client_id=str(client_id), billing_type="hourly", currency="USD"
    )
    response = await gateway.post(
        "/v1/rates",
        json={
            "kind": "billable",
            "scope": "agency",
            "hourly_rate_cents": 10_000,
            "effective_from": "2026-01-01",
        },
        headers=agency.headers,
    )
    assert response.status_code == 201, response.text
    return Books(agency, person, client_id, uuid.UUID(eur["id"]), uuid.UUID(usd["id"]), platform)
