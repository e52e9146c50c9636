"""Recording manual payments (billing's payment endpoints): partial and full payments move the
invoice's balance and status, `billing.payment.recorded` and (once) `billing.invoice.paid` go to
the outbox, payments are listed oldest first, and a retried request pays once."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agencyos.testing.inprocess import Caller

PAID = "billing.invoice.paid"
RECORDED = "billing.payment.recorded"

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


class TestPartialAndFullPayments:
    async def test_a_partial_payment_makes_the_invoice_partially_paid(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)
        received = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)

        response = await pay(
            billing,
            agency,
            invoice_id,
            40_000,
            reference="SEPA 123",
            received_at=received.isoformat(),
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"/v1/invoices/{invoice_id}/payments/{body['id']}"
        assert body["amount_cents"] == 40_000
        assert body["kind"] == "payment"
        assert body["method"] == "bank_transfer"
        assert body["reference"] == "SEPA 123"
        assert body["currency"] == "EUR"
        assert body["recorded_by"] == str(agency.user_id)
        assert datetime.fromisoformat(body["received_at"]) == received
        assert body["invoice"] == {
            "id": str(invoice_id),
            "status": "partially_paid",
            "currency": "EUR",
            "total_cents": 100_000,
            "amount_paid_cents": 40_000,
            "amount_due_cents": 60_000,
            "paid_at": None,
        }
        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"], row["paid_at"]) == (
            "partially_paid",
            40_000,
            None,
        )

    async def test_the_payment_that_completes_the_total_makes_it_paid_once(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000, tax_cents=19_000)
        await paid(billing, agency, invoice_id, 30_000)
        received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

        response = await pay(billing, agency, invoice_id, 70_000, received_at=received.isoformat())

        assert response.status_code == 201, response.text
        balance = response.json()["invoice"]
        assert balance["status"] == "paid"
        assert balance["amount_due_cents"] == 0
        assert datetime.fromisoformat(balance["paid_at"]) == received
        [paid_event] = await outbox_events(agency, PAID, invoice_id)
        assert paid_event["tenantid"] == str(agency.agency_id)
        data = paid_event["data"]
        assert data["invoice_id"] == str(invoice_id)
        assert data["total_cents"] == 100_000
        assert data["amount_cents"] == 70_000  # what this payment added
        assert data["currency"] == "EUR"
        assert datetime.fromisoformat(data["paid_at"]) == received
        recorded = await outbox_events(agency, RECORDED, invoice_id)
        assert [(e["data"]["amount_cents"], e["data"]["invoice_status"]) for e in recorded] == [
            (30_000, "partially_paid"),
            (70_000, "paid"),
        ]
        assert recorded[1]["data"]["amount_paid_cents"] == 100_000
        assert recorded[1]["data"]["method"] == "bank_transfer"

    async def test_an_overdue_invoice_stays_overdue_until_paid_in_full(
        self, billing: httpx.AsyncClient, agency: Caller, seed_invoice: SeedInvoice
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=50_000, status="overdue")

        first = await paid(billing, agency, invoice_id, 20_000)
        assert first["invoice"]["status"] == "overdue"
        assert first["invoice"]["amount_paid_cents"] == 20_000

        second = await paid(billing, agency, invoice_id, 30_000)
        assert second["invoice"]["status"] == "paid"

    async def test_payments_are_listed_oldest_first(
        self, billing: httpx.AsyncClient, agency: Caller, seed_invoice: SeedInvoice
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=90_000)
        now = datetime.now(UTC)
        later = await pay(
            billing, agency, invoice_id, 10_000, received_at=(now - timedelta(days=1)).isoformat()
        )
        earlier = await pay(
            billing,
            agency,
            invoice_id,
            20_000,
            method="cash",
            received_at=(now - timedelta(days=3)).isoformat(),
        )

        listing = await billing.get(f"/v1/invoices/{invoice_id}/payments", headers=agency.headers)

        assert listing.status_code == 200, listing.text
        assert listing.json()["total"] == 2
        items = listing.json()["items"]
        assert [p["id"] for p in items] == [earlier.json()["id"], later.json()["id"]]
        assert [p["method"] for p in items] == ["cash", "bank_transfer"]
        one = await billing.get(
            f"/v1/invoices/{invoice_id}/payments/{earlier.json()['id']}", headers=agency.headers
        )
        assert one.status_code == 200, one.text
        assert one.json()["amount_cents"] == 20_000

    async def test_a_retried_request_with_the_same_idempotency_key_pays_once(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        invoice_row: InvoiceRow,
        payment_rows: PaymentRows,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=10_000)
        headers = {**agency.headers, "Idempotency-Key": uuid.uuid4().hex}
        body = {"amount_cents": 4_000, "method": "bank_transfer"}
        url = f"/v1/invoices/{invoice_id}/payments"

        first = await billing.post(url, json=body, headers=headers)
        second = await billing.post(url, json=body, headers=headers)

        assert first.status_code == second.status_code == 201
        assert second.json()["id"] == first.json()["id"]
        assert len(await payment_rows(agency, invoice_id)) == 1
        assert (await invoice_row(agency, invoice_id))["amount_paid_cents"] == 4_000
