"""What billing refuses to record as a payment: money on an invoice that is not open, more than
is due, money received in the future, and malformed input (422 problems naming the field)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Caller

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


class TestWhatCannotBePaid:
    @pytest.mark.parametrize("status", ["draft", "void", "paid"])
    async def test_only_open_invoices_take_payments(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        payment_rows: PaymentRows,
        status: str,
    ) -> None:
        invoice_id = await seed_invoice(
            agency,
            status=status,
            total_cents=10_000,
            amount_paid_cents=10_000 if status == "paid" else 0,
        )

        response = await pay(billing, agency, invoice_id, 1_000)

        body = assert_problem(response, 409, "conflict")
        assert body["invoice_status"] == status
        assert await payment_rows(agency, invoice_id) == []

    async def test_more_than_the_amount_due_is_refused(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=10_000)
        await paid(billing, agency, invoice_id, 6_000)

        response = await pay(billing, agency, invoice_id, 4_001)

        body = assert_invalid_fields(response, "amount_cents")
        assert body["amount_due_cents"] == 4_000
        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("partially_paid", 6_000)

    @pytest.mark.parametrize(
        ("fields", "bad"),
        [
            ({"amount_cents": 0}, "amount_cents"),
            ({"amount_cents": -500}, "amount_cents"),
            ({"amount_cents": 10.5}, "amount_cents"),
            ({"amount_cents": "500"}, "amount_cents"),
            ({"amount_cents": 500, "method": "stripe"}, "method"),
            ({"amount_cents": 500, "method": "cheque"}, "method"),
            ({"amount_cents": 500, "received_at": "2026-12-01T10:00:00"}, "received_at"),
            ({"amount_cents": 500, "received_at": "yesterday"}, "received_at"),
            ({"amount_cents": 500, "reference": "x" * 256}, "reference"),
            ({"amount_cents": 500, "currency": "USD"}, "currency"),
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        fields: dict[str, Any],
        bad: str,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=10_000)
        body = {"method": "bank_transfer", **fields}

        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, bad)

    async def test_money_cannot_be_received_in_the_future(
        self, billing: httpx.AsyncClient, agency: Caller, seed_invoice: SeedInvoice
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=10_000)
        tomorrow = datetime.now(UTC) + timedelta(days=1)

        response = await pay(billing, agency, invoice_id, 500, received_at=tomorrow.isoformat())

        assert_invalid_fields(response, "received_at")

    async def test_an_unknown_invoice_is_404(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        assert_problem(await pay(billing, agency, uuid.uuid4(), 500), 404, "not-found")
        response = await billing.get(
            f"/v1/invoices/{uuid.uuid4()}/payments", headers=agency.headers
        )
        assert_problem(response, 404, "not-found")
