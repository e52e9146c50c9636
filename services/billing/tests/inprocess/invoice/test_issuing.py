"""Sending invoices (billing with the real time service in this process, stripe-mock for
Stripe): numbers in the order of sending with none consumed by a refused or repeated send, a
racing double send numbered once, the Stripe customer and Checkout Session, dates in the
agency's time zone, time confirmed as invoiced, and `billing.invoice.sent` in the outbox.
(Fifty concurrent sends through the gateway: the platform tier.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Caller, InProcess, ServiceInProcess
from agencyos.testing.invoicing import Books, time_entry_ids
from agencyos.testing.sql import fetch_rows

MakeBooks = Callable[..., Books]
OutboxEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def counter(billing_service: ServiceInProcess, agency: Caller) -> int | None:
    rows = await fetch_rows(
        billing_service.infra,
        billing_service.database,
        "SELECT last_number FROM invoice_number_counters",
        tenant_id=agency.agency_id,
    )
    return rows[0]["last_number"] if rows else None


class TestNumbering:
    async def test_numbers_follow_the_order_of_sending_and_void_keeps_its_number(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        first, second, third = [await books.manual_draft(1000) for _ in range(3)]
        assert (await books.sent(third["id"]))["number"] == "INV-0001"
        assert (await books.sent(first["id"]))["number"] == "INV-0002"
        voided = await billing.post(f"/v1/invoices/{third['id']}/void", headers=agency.headers)
        assert voided.json()["number"] == "INV-0001"
        assert (await books.sent(second["id"]))["number"] == "INV-0003"

    async def test_sending_twice_answers_409_and_consumes_no_number(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        draft = await books.manual_draft(1000)
        sent = await books.sent(draft["id"])
        again = await books.send(draft["id"])
        assert_problem(again, 409, "invoice-not-sendable")
        both = await asyncio.gather(books.send(draft["id"]), books.send(draft["id"]))
        for response in both:
            assert_problem(response, 409, "invoice-not-sendable")
        still = await billing.get(f"/v1/invoices/{draft['id']}", headers=agency.headers)
        assert still.json()["number"] == sent["number"] == "INV-0001"
        assert await counter(billing_service, agency) == 1

    async def test_a_racing_double_send_numbers_once(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        draft = await books.manual_draft(1000)
        both = await asyncio.gather(books.send(draft["id"]), books.send(draft["id"]))
        assert sorted(r.status_code for r in both) == [200, 409]
        assert await counter(billing_service, agency) == 1

    async def test_only_a_draft_above_zero_is_sent(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        empty = await books.draft(include=[])
        assert_problem(await books.send(empty["id"]), 409, "invoice-not-sendable")
        negative = await books.manual_draft(-500)
        assert_problem(await books.send(negative["id"]), 409, "invoice-not-sendable")
        assert_problem(await books.send(uuid.uuid4()), 404)
        assert await counter(billing_service, agency) in (None, 0)
        # the next real send is number 1: refused sends took no number
        assert (await books.sent((await books.manual_draft(1))["id"]))["number"] == "INV-0001"


class TestSend:
    async def test_send_issues_the_invoice_its_payment_page_and_event(
        self,
        in_process: InProcess,
        agency: Caller,
        books: Books,
        outbox_events: OutboxEvents,
    ) -> None:
        in_process.standins.identity.update_agency(
            agency.agency_id, invoice_prefix="ACME-", timezone="Pacific/Kiritimati"
        )
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

        [event] = await outbox_events(agency, "billing.invoice.sent", uuid.UUID(invoice["id"]))
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"] == {
            "invoice_id": invoice["id"],
            "client_id": str(books.client_id),
            "number": "ACME-0001",
            "total_cents": 15_000,
            "currency": "EUR",
            "due_date": invoice["due_date"],
            "payment_url": invoice["payment_url"],
            # the parties and the signed PDF link: their own tests are in test_parties.py
            # and test_document_link.py
            "bill_to": event["data"]["bill_to"],
            "issuer": event["data"]["issuer"],
            "document_url": event["data"]["document_url"],
        }

    async def test_a_second_invoice_reuses_the_clients_stripe_customer(
        self, agency: Caller, books: Books, make_books: MakeBooks
    ) -> None:
        await books.sent((await books.manual_draft(1000))["id"])
        await books.sent((await books.manual_draft(2000))["id"])
        other = make_books(agency)
        await other.sent((await other.manual_draft(3000))["id"])
        customers = await books.billing_rows(
            "SELECT client_id, stripe_customer_id FROM stripe_customers"
        )
        assert sorted(str(c["client_id"]) for c in customers) == sorted(
            [str(books.client_id), str(other.client_id)]
        )
        assert len({c["stripe_customer_id"] for c in customers}) == 2


class TestUnverifiedSender:
    async def test_a_sender_whose_email_is_not_verified_is_refused_and_no_number_is_taken(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        in_process: InProcess,
        billing_service: ServiceInProcess,
    ) -> None:
        draft = await books.manual_draft(1000)
        # the owner's token as identity issues it before they verify their address
        unverified = in_process.keys.mint(
            sub=str(agency.user_id),
            tid=str(agency.agency_id),
            role=agency.role,
            sid=uuid.uuid4().hex,
            email_verified=False,
        )

        response = await billing.post(
            f"/v1/invoices/{draft['id']}/send",
            headers={"Authorization": f"Bearer {unverified}"},
        )

        body = assert_problem(response, 403, "email-not-verified")
        assert "verify your email address before you send invoices" in body["detail"]
        still = await billing.get(f"/v1/invoices/{draft['id']}", headers=agency.headers)
        assert still.json()["status"] == "draft"
        assert await counter(billing_service, agency) is None
        # the same owner once verified (a token saying so) sends it
        assert (await books.sent(draft["id"]))["number"] == "INV-0001"
