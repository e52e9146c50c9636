"""Who may record and see payments: the agency's money people (owner, manager), never a
member, never another agency (404, its invoice untouched), never anyone without a token."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller

SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
InvoiceRow = Callable[[Caller, uuid.UUID], Awaitable[Any]]
PaymentRows = Callable[[Caller, uuid.UUID], Awaitable[list[Any]]]


async def pay(
    billing: httpx.AsyncClient,
    who: Caller,
    invoice_id: uuid.UUID,
    amount_cents: Any,
    **fields: Any,
) -> httpx.Response:
    body = {"amount_cents": amount_cents, "method": "bank_transfer", **fields}
    return await billing.post(f"/v1/invoices/{invoice_id}/payments", json=body, headers=who.headers)


async def paid(
    billing: httpx.AsyncClient, who: Caller, invoice_id: uuid.UUID, amount_cents: int
) -> dict[str, Any]:
    response = await pay(billing, who, invoice_id, amount_cents)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


class TestWhoMayPay:
    async def test_a_member_can_neither_record_nor_see_payments(
        self,
        billing: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
        seed_invoice: SeedInvoice,
        payment_rows: PaymentRows,
    ) -> None:
        member = tenant.caller("member")
        invoice_id = await seed_invoice(agency, total_cents=10_000)

        assert_problem(await pay(billing, member, invoice_id, 500), 403, "permission-denied")
        response = await billing.get(f"/v1/invoices/{invoice_id}/payments", headers=member.headers)
        assert_problem(response, 403, "permission-denied")
        assert await payment_rows(agency, invoice_id) == []

    async def test_a_manager_may_record_payments(
        self, billing: httpx.AsyncClient, tenant: Agency, agency: Caller, seed_invoice: SeedInvoice
    ) -> None:
        manager = tenant.caller("manager")
        invoice_id = await seed_invoice(agency, total_cents=10_000)

        response = await pay(billing, manager, invoice_id, 10_000)

        assert response.status_code == 201, response.text
        assert response.json()["recorded_by"] == str(manager.user_id)

    async def test_another_agencys_invoice_is_404_and_untouched(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
    ) -> None:
        theirs = await seed_invoice(other_agency, total_cents=10_000)
        their_payment = await paid(billing, other_agency, theirs, 1_000)

        assert_problem(await pay(billing, agency, theirs, 500), 404, "not-found")
        listing = await billing.get(f"/v1/invoices/{theirs}/payments", headers=agency.headers)
        assert_problem(listing, 404, "not-found")
        one = await billing.get(
            f"/v1/invoices/{theirs}/payments/{their_payment['id']}", headers=agency.headers
        )
        assert_problem(one, 404, "not-found")
        row = await invoice_row(other_agency, theirs)
        assert row["amount_paid_cents"] == 1_000

    async def test_without_a_token_it_is_401(
        self, billing: httpx.AsyncClient, agency: Caller, seed_invoice: SeedInvoice
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=10_000)

        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 500, "method": "cash"},
        )

        assert_problem(response, 401)
