"""Manual payments through the gateway against the running platform: partial and full
payments move the invoice's balance and status, `billing.payment.recorded` and (once)
`billing.invoice.paid` reach Kafka, what cannot be paid is refused, concurrent payments never
lose an update or overpay together, and only the agency's money people see any of it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.billing import (
    invoice_events,
    invoice_row,
    payment_rows,
    settled_billing_events,
)
from agencyos.testing.factories import AgencySession, add_member, seed_invoice
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.platform import Platform

PAID = "billing.invoice.paid"
RECORDED = "billing.payment.recorded"


async def pay(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    invoice_id: uuid.UUID,
    amount_cents: Any,
    **fields: Any,
) -> httpx.Response:
    body = {"amount_cents": amount_cents, "method": "bank_transfer", **fields}
    return await gateway.post(f"/v1/invoices/{invoice_id}/payments", json=body, headers=who.headers)


async def paid(
    gateway: httpx.AsyncClient, who: AgencySession, invoice_id: uuid.UUID, amount_cents: int
) -> dict[str, Any]:
    response = await pay(gateway, who, invoice_id, amount_cents)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_payments(
    gateway: httpx.AsyncClient, who: AgencySession, invoice_id: uuid.UUID
) -> dict[str, Any]:
    response = await gateway.get(f"/v1/invoices/{invoice_id}/payments", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestPartialAndFullPayments:
    async def test_a_partial_payment_makes_the_invoice_partially_paid(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=100_000)
        received = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)

        response = await pay(
            gateway,
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
        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"], row["paid_at"]) == (
            "partially_paid",
            40_000,
            None,
        )

    async def test_the_payment_that_completes_the_total_makes_it_paid_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=100_000, tax_cents=19_000)
        await paid(gateway, agency, invoice_id, 30_000)
        received = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)

        response = await pay(gateway, agency, invoice_id, 70_000, received_at=received.isoformat())

        assert response.status_code == 201, response.text
        balance = response.json()["invoice"]
        assert balance["status"] == "paid"
        assert balance["amount_due_cents"] == 0
        assert datetime.fromisoformat(balance["paid_at"]) == received
        records = await settled_billing_events(platform, gateway, agency)
        [paid_event] = invoice_events(records, PAID, invoice_id)
        assert paid_event["tenantid"] == str(agency.agency_id)
        data = paid_event["data"]
        assert data["invoice_id"] == str(invoice_id)
        assert data["total_cents"] == 100_000
        assert data["amount_cents"] == 70_000  # what this payment added
        assert data["currency"] == "EUR"
        assert datetime.fromisoformat(data["paid_at"]) == received
        recorded = invoice_events(records, RECORDED, invoice_id)
        assert [(e["data"]["amount_cents"], e["data"]["invoice_status"]) for e in recorded] == [
            (30_000, "partially_paid"),
            (70_000, "paid"),
        ]
        assert recorded[1]["data"]["amount_paid_cents"] == 100_000
        assert recorded[1]["data"]["method"] == "bank_transfer"

    async def test_an_overdue_invoice_stays_overdue_until_paid_in_full(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=50_000, status="overdue")

        first = await paid(gateway, agency, invoice_id, 20_000)
        assert first["invoice"]["status"] == "overdue"
        assert first["invoice"]["amount_paid_cents"] == 20_000

        second = await paid(gateway, agency, invoice_id, 30_000)
        assert second["invoice"]["status"] == "paid"

    async def test_payments_are_listed_oldest_first(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=90_000)
        now = datetime.now(UTC)
        later = await pay(
            gateway, agency, invoice_id, 10_000, received_at=(now - timedelta(days=1)).isoformat()
        )
        earlier = await pay(
            gateway,
            agency,
            invoice_id,
            20_000,
            method="cash",
            received_at=(now - timedelta(days=3)).isoformat(),
        )

        listing = await list_payments(gateway, agency, invoice_id)

        assert listing["total"] == 2
        assert [p["id"] for p in listing["items"]] == [earlier.json()["id"], later.json()["id"]]
        assert [p["method"] for p in listing["items"]] == ["cash", "bank_transfer"]
        one = await gateway.get(
            f"/v1/invoices/{invoice_id}/payments/{earlier.json()['id']}", headers=agency.headers
        )
        assert one.status_code == 200, one.text
        assert one.json()["amount_cents"] == 20_000

    async def test_a_retried_request_with_the_same_idempotency_key_pays_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)
        headers = {**agency.headers, "Idempotency-Key": uuid.uuid4().hex}
        body = {"amount_cents": 4_000, "method": "bank_transfer"}
        url = f"/v1/invoices/{invoice_id}/payments"

        first = await gateway.post(url, json=body, headers=headers)
        second = await gateway.post(url, json=body, headers=headers)

        assert first.status_code == second.status_code == 201
        assert second.json()["id"] == first.json()["id"]
        assert len(await payment_rows(platform, agency, invoice_id)) == 1
        assert (await invoice_row(platform, agency, invoice_id))["amount_paid_cents"] == 4_000


class TestWhatCannotBePaid:
    @pytest.mark.parametrize("status", ["draft", "void", "paid"])
    async def test_only_open_invoices_take_payments(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, status: str
    ) -> None:
        invoice_id = await seed_invoice(
            platform,
            agency,
            status=status,
            total_cents=10_000,
            amount_paid_cents=10_000 if status == "paid" else 0,
        )

        response = await pay(gateway, agency, invoice_id, 1_000)

        body = assert_problem(response, 409, "conflict")
        assert body["invoice_status"] == status
        assert await payment_rows(platform, agency, invoice_id) == []

    async def test_more_than_the_amount_due_is_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)
        await paid(gateway, agency, invoice_id, 6_000)

        response = await pay(gateway, agency, invoice_id, 4_001)

        body = assert_invalid_fields(response, "amount_cents")
        assert body["amount_due_cents"] == 4_000
        row = await invoice_row(platform, agency, invoice_id)
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
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        fields: dict[str, Any],
        bad: str,
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)
        body = {"method": "bank_transfer", **fields}

        response = await gateway.post(
            f"/v1/invoices/{invoice_id}/payments", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, bad)

    async def test_money_cannot_be_received_in_the_future(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)
        tomorrow = datetime.now(UTC) + timedelta(days=1)

        response = await pay(gateway, agency, invoice_id, 500, received_at=tomorrow.isoformat())

        assert_invalid_fields(response, "received_at")

    async def test_an_unknown_invoice_is_404(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assert_problem(await pay(gateway, agency, uuid.uuid4(), 500), 404, "not-found")
        response = await gateway.get(
            f"/v1/invoices/{uuid.uuid4()}/payments", headers=agency.headers
        )
        assert_problem(response, 404, "not-found")


class TestConcurrentPayments:
    async def test_two_concurrent_partial_payments_both_count(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=100_000)

        responses = await asyncio.gather(
            pay(gateway, agency, invoice_id, 40_000), pay(gateway, agency, invoice_id, 35_000)
        )

        assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("partially_paid", 75_000)
        assert sorted(
            p["amount_cents"] for p in await payment_rows(platform, agency, invoice_id)
        ) == [
            35_000,
            40_000,
        ]

    async def test_many_concurrent_payments_never_overpay_together(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=100_000)

        responses = await asyncio.gather(
            *(pay(gateway, agency, invoice_id, 30_000) for _ in range(6))
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 201, 201, 422, 422, 422], [r.text for r in responses]
        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("partially_paid", 90_000)

    async def test_two_concurrent_payments_completing_the_total_publish_paid_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=100_000)
        await paid(gateway, agency, invoice_id, 50_000)

        responses = await asyncio.gather(
            pay(gateway, agency, invoice_id, 50_000), pay(gateway, agency, invoice_id, 50_000)
        )

        assert sorted(r.status_code for r in responses) == [201, 409]
        records = await settled_billing_events(platform, gateway, agency)
        assert len(invoice_events(records, PAID, invoice_id)) == 1
        assert len(invoice_events(records, RECORDED, invoice_id)) == 2


class TestWhoMayPay:
    async def test_a_member_can_neither_record_nor_see_payments(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)

        assert_problem(await pay(gateway, member, invoice_id, 500), 403, "permission-denied")
        response = await gateway.get(f"/v1/invoices/{invoice_id}/payments", headers=member.headers)
        assert_problem(response, 403, "permission-denied")
        assert await payment_rows(platform, agency, invoice_id) == []

    async def test_a_manager_may_record_payments(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)

        response = await pay(gateway, manager, invoice_id, 10_000)

        assert response.status_code == 201, response.text
        assert response.json()["recorded_by"] == str(manager.user_id)

    async def test_another_agencys_invoice_is_404_and_untouched(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        theirs = await seed_invoice(platform, other_agency, total_cents=10_000)
        their_payment = await paid(gateway, other_agency, theirs, 1_000)

        assert_problem(await pay(gateway, agency, theirs, 500), 404, "not-found")
        listing = await gateway.get(f"/v1/invoices/{theirs}/payments", headers=agency.headers)
        assert_problem(listing, 404, "not-found")
        one = await gateway.get(
            f"/v1/invoices/{theirs}/payments/{their_payment['id']}", headers=agency.headers
        )
        assert_problem(one, 404, "not-found")
        row = await invoice_row(platform, other_agency, theirs)
        assert row["amount_paid_cents"] == 1_000

    async def test_without_a_token_it_is_401(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, total_cents=10_000)

        response = await gateway.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 500, "method": "cash"},
        )

        assert_problem(response, 401)
