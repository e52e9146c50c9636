"""Payments racing each other (concurrent requests to billing, each in its own transaction):
none loses an update, together they never overpay, and the invoice is paid once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.inprocess import Caller

SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
InvoiceRow = Callable[[Caller, uuid.UUID], Awaitable[Any]]
PaymentRows = Callable[[Caller, uuid.UUID], Awaitable[list[Any]]]
OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]


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


PAID = "billing.invoice.paid"
RECORDED = "billing.payment.recorded"


class TestConcurrentPayments:
    async def test_two_concurrent_partial_payments_both_count(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
        payment_rows: PaymentRows,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)

        responses = await asyncio.gather(
            pay(billing, agency, invoice_id, 40_000), pay(billing, agency, invoice_id, 35_000)
        )

        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("partially_paid", 75_000)
        amounts = sorted(p["amount_cents"] for p in await payment_rows(agency, invoice_id))
        assert amounts == [35_000, 40_000]

    async def test_many_concurrent_payments_never_overpay_together(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)

        responses = await asyncio.gather(
            *(pay(billing, agency, invoice_id, 30_000) for _ in range(6))
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 201, 201, 422, 422, 422], [r.text for r in responses]
        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("partially_paid", 90_000)

    async def test_two_concurrent_payments_completing_the_total_publish_paid_once(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)
        await paid(billing, agency, invoice_id, 50_000)

        responses = await asyncio.gather(
            pay(billing, agency, invoice_id, 50_000), pay(billing, agency, invoice_id, 50_000)
        )

        assert sorted(r.status_code for r in responses) == [201, 409]
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1
        assert len(await outbox_events(agency, RECORDED, invoice_id)) == 2
