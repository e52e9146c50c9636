"""Sending invoices through the real gateway, billing, time, identity, CRM and stripe-mock:
gapless numbers under concurrent sends, a number never consumed without an invoice, the
Stripe customer and Checkout Session, dates in the agency's time zone, time confirmed as
invoiced, and `billing.invoice.sent`."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agencyos.testing.billing import invoice_events, wait_for_invoice_event
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_problem
from agencyos.testing.invoicing import Books, new_books, time_entry_ids
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def counter(platform: Platform, agency: AgencySession) -> int | None:
    rows = await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT last_number FROM invoice_number_counters",
        tenant_id=agency.agency_id,
    )
    return rows[0]["last_number"] if rows else None


async def send_until_answered(books: Books, invoice_id: str) -> dict[str, Any]:
    """Send as a careful client would: a 503 (the gateway could not reach billing under this
    load) is retried, and a retry that finds the invoice already sent reads it. Retries must
    not cost numbers either, which the callers check."""
    for _ in range(5):
        response = await books.send(invoice_id)
        if response.status_code == 200:
            invoice: dict[str, Any] = response.json()
            return invoice
        if response.status_code == 409:
            current = await books.gateway.get(
                f"/v1/invoices/{invoice_id}", headers=books.agency.headers
            )
            assert current.json()["status"] == "sent", current.text
            invoice = current.json()
            return invoice
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.5)
    raise AssertionError(f"sending {invoice_id} kept failing: {response.text}")


class TestNumbering:
    async def test_fifty_concurrent_sends_get_numbers_1_to_50_without_gaps(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        drafts = await asyncio.gather(*(books.manual_draft(100 + i) for i in range(50)))
        sent = await asyncio.gather(*(send_until_answered(books, d["id"]) for d in drafts))

        numbers = sorted(invoice["number"] for invoice in sent)
        assert numbers == [f"INV-{n:04d}" for n in range(1, 51)]
        assert await counter(platform, agency) == 50
        sessions = {invoice["id"]: invoice["payment_url"] for invoice in sent}
        assert all(url and url.startswith("https://") for url in sessions.values())
        references = await books.billing_rows(
            "SELECT stripe_id, invoice_id, tenant_id FROM stripe_references WHERE tenant_id = $1",
            agency.agency_id,
        )
        assert sorted(str(r["invoice_id"]) for r in references) == sorted(sessions)
        customers = await books.billing_rows("SELECT stripe_customer_id FROM stripe_customers")
        assert len(customers) == 1  # one Stripe customer for the client, however many sends

    async def test_numbers_follow_the_order_of_sending_and_void_keeps_its_number(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        first, second, third = [await books.manual_draft(1000) for _ in range(3)]
        assert (await books.sent(third["id"]))["number"] == "INV-0001"
        assert (await books.sent(first["id"]))["number"] == "INV-0002"
        voided = await gateway.post(f"/v1/invoices/{third['id']}/void", headers=agency.headers)
        assert voided.json()["number"] == "INV-0001"
        assert (await books.sent(second["id"]))["number"] == "INV-0003"

    async def test_sending_twice_answers_409_and_consumes_no_number(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        draft = await books.manual_draft(1000)
        sent = await books.sent(draft["id"])
        again = await books.send(draft["id"])
        assert_problem(again, 409, "invoice-not-sendable")
        both = await asyncio.gather(books.send(draft["id"]), books.send(draft["id"]))
        for response in both:
            assert_problem(response, 409, "invoice-not-sendable")
        still = await gateway.get(f"/v1/invoices/{draft['id']}", headers=agency.headers)
        assert still.json()["number"] == sent["number"] == "INV-0001"
        assert await counter(platform, agency) == 1

    async def test_a_racing_double_send_numbers_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        draft = await books.manual_draft(1000)
        both = await asyncio.gather(books.send(draft["id"]), books.send(draft["id"]))
        assert sorted(r.status_code for r in both) == [200, 409]
        assert await counter(platform, agency) == 1

    async def test_only_a_draft_above_zero_is_sent(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        empty = await books.draft(include=[])
        assert_problem(await books.send(empty["id"]), 409, "invoice-not-sendable")
        negative = await books.manual_draft(-500)
        assert_problem(await books.send(negative["id"]), 409, "invoice-not-sendable")
        assert_problem(await books.send(uuid.uuid4()), 404)
        assert await counter(platform, agency) in (None, 0)
        # the next real send is number 1: refused sends took no number
        assert (await books.sent((await books.manual_draft(1))["id"]))["number"] == "INV-0001"


class TestSend:
    async def test_send_issues_the_invoice_its_payment_page_and_event(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        changed = await gateway.patch(
            "/v1/agency",
            json={"invoice_prefix": "ACME-", "timezone": "Pacific/Kiritimati"},
            headers=agency.headers,
        )
        assert changed.status_code == 200, changed.text
        books = await new_books(platform, gateway, agency)
        entries = await books.time(3600, 1800, rate=10_000)
        draft = await books.draft(due_in_days=14)
        invoice = await books.sent(draft["id"])

        today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()  # UTC+14
        assert invoice["status"] == "sent"
        assert invoice["number"] == "ACME-0001"
        assert invoice["issue_date"] == today.isoformat()
        assert invoice["due_date"] == (today + timedelta(days=14)).isoformat()
        assert invoice["sent_at"] is not None
        assert invoice["payment_url"].startswith("https://checkout.stripe.com/")
        assert invoice["total_cents"] == 15_000
        assert invoice["version"] == draft["version"] + 1
        assert sorted(time_entry_ids(invoice)) == sorted(entries)

        [row] = await books.billing_rows(
            "SELECT stripe_checkout_session_id, timezone FROM invoices WHERE id = $1",
            uuid.UUID(invoice["id"]),
        )
        # the zone its dates are days in, which the scheduler judges "past due" by
        assert row["timezone"] == "Pacific/Kiritimati"
        session_id = row["stripe_checkout_session_id"]
        assert session_id.startswith("cs_")
        [reference] = await books.billing_rows(
            "SELECT tenant_id, invoice_id FROM stripe_references WHERE stripe_id = $1", session_id
        )
        assert (reference["tenant_id"], str(reference["invoice_id"])) == (
            agency.agency_id,
            invoice["id"],
        )
        [customer] = await books.billing_rows(
            "SELECT client_id, stripe_customer_id FROM stripe_customers"
        )
        assert customer["client_id"] == books.client_id
        assert customer["stripe_customer_id"].startswith("cus_")

        rows = await books.time_rows(entries)
        assert {(r["invoice_id"], r["status"]) for r in rows.values()} == {
            (uuid.UUID(invoice["id"]), "invoiced")
        }

        records = await wait_for_invoice_event(
            platform, "billing.invoice.sent", uuid.UUID(invoice["id"])
        )
        [event] = invoice_events(records, "billing.invoice.sent", uuid.UUID(invoice["id"]))
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"] == {
            "invoice_id": invoice["id"],
            "client_id": str(books.client_id),
            "number": "ACME-0001",
            "total_cents": 15_000,
            "currency": "EUR",
            "due_date": invoice["due_date"],
            "payment_url": invoice["payment_url"],
        }

    async def test_a_second_invoice_reuses_the_clients_stripe_customer(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        await books.sent((await books.manual_draft(1000))["id"])
        await books.sent((await books.manual_draft(2000))["id"])
        other = await new_books(platform, gateway, agency)
        await other.sent((await other.manual_draft(3000))["id"])
        customers = await books.billing_rows(
            "SELECT client_id, stripe_customer_id FROM stripe_customers"
        )
        assert sorted(str(c["client_id"]) for c in customers) == sorted(
            [str(books.client_id), str(other.client_id)]
        )
        assert len({c["stripe_customer_id"] for c in customers}) == 2
