"""Whom a sent invoice is addressed to: sending keeps the client's company name and primary
contact as CRM has them then (and the agency's name and branding as identity has them), and
`billing.invoice.sent` and every later event of the invoice (paid, payment failed; overdue and
reminders are the scheduler's tests) carry that addressee as `bill_to`, for the notification
service, which cannot ask CRM."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.invoicing import Books
from agencyos.testing.stripe_webhooks import stripe_event

OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]
InvoiceRow = Callable[[Caller, uuid.UUID], Awaitable[Any]]
NewStripePayment = Callable[..., Any]
Deliver = Callable[..., Awaitable[httpx.Response]]

BILL_TO = {
    "client_name": "Acme Widgets GmbH",
    "contact_name": "Jane Payer",
    "email": "jane@acme.example",
}
# The agency as identity's stand-in answers it after `addressed` (its zone is the stand-in's).
ISSUER = {"name": "Northwind Studio", "logo_url": None, "brand_color": "#1A73E8"}


@pytest.fixture
def addressed(in_process: InProcess, books: Books, agency: Caller) -> Books:
    """The books' client, as CRM's stand-in answers it: a company with a primary contact and
    a billing address; the agency branded, as identity's stand-in answers it."""
    in_process.standins.identity.update_agency(
        agency.agency_id, name="Northwind Studio", brand_color="#1A73E8"
    )
    client = in_process.standins.crm.clients[(agency.agency_id, books.client_id)]
    client.company_name = BILL_TO["client_name"]
    client.primary_contact_name = BILL_TO["contact_name"]
    client.primary_contact_email = BILL_TO["email"]
    client.address_line1 = "Hauptstrasse 5"
    client.city = "Berlin"
    client.postal_code = "10115"
    return books


class TestSending:
    async def test_sending_keeps_the_addressee_and_the_sent_event_carries_it(
        self,
        addressed: Books,
        agency: Caller,
        invoice_row: InvoiceRow,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice = await addressed.sent((await addressed.manual_draft(10_000))["id"])
        invoice_id = uuid.UUID(invoice["id"])

        [event] = await outbox_events(agency, "billing.invoice.sent", invoice_id)
        assert event["data"]["bill_to"] == BILL_TO
        row = await invoice_row(agency, invoice_id)
        assert event["data"]["issuer"] == {
            **ISSUER,
            "timezone": row["timezone"],
            "slug": f"agency-{agency.agency_id.hex[:8]}",  # the stand-in's slug
        }
        assert row["issuer_slug"] == event["data"]["issuer"]["slug"]
        row = await invoice_row(agency, invoice_id)
        assert (row["bill_to_client_name"], row["bill_to_contact_name"], row["bill_to_email"]) == (
            "Acme Widgets GmbH",
            "Jane Payer",
            "jane@acme.example",
        )
        assert row["bill_to_address"] == ["Hauptstrasse 5", "10115 Berlin"]
        assert (row["issuer_name"], row["issuer_brand_color"]) == ("Northwind Studio", "#1A73E8")

    async def test_a_client_without_a_primary_contact_is_addressed_by_its_name_only(
        self, books: Books, agency: Caller, outbox_events: OutboxEvents, in_process: InProcess
    ) -> None:
        client = in_process.standins.crm.clients[(agency.agency_id, books.client_id)]

        invoice = await books.sent((await books.manual_draft(10_000))["id"])

        [event] = await outbox_events(agency, "billing.invoice.sent", uuid.UUID(invoice["id"]))
        assert event["data"]["bill_to"] == {
            "client_name": client.company_name,
            "contact_name": None,
            "email": None,
        }

    async def test_a_draft_keeps_no_addressee(
        self, addressed: Books, agency: Caller, invoice_row: InvoiceRow
    ) -> None:
        draft = await addressed.manual_draft(10_000)

        row = await invoice_row(agency, uuid.UUID(draft["id"]))

        assert row["bill_to_client_name"] is None
        assert row["issuer_name"] is None


class TestLaterEvents:
    async def test_paid_carries_the_addressee_kept_when_it_was_sent(
        self,
        in_process: InProcess,
        addressed: Books,
        billing: httpx.AsyncClient,
        agency: Caller,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice = await addressed.sent((await addressed.manual_draft(10_000))["id"])
        # CRM changes afterwards: the invoice went to whom it went to
        client = in_process.standins.crm.clients[(agency.agency_id, addressed.client_id)]
        client.primary_contact_email = "someone.else@acme.example"

        paid = await billing.post(
            f"/v1/invoices/{invoice['id']}/payments",
            json={"amount_cents": invoice["total_cents"], "method": "bank_transfer"},
            headers=agency.headers,
        )

        assert paid.status_code == 201, paid.text
        [event] = await outbox_events(agency, "billing.invoice.paid", uuid.UUID(invoice["id"]))
        assert event["data"]["bill_to"] == BILL_TO

    async def test_a_failed_payment_carries_the_addressee_what_is_due_and_the_payment_page(
        self,
        addressed: Books,
        agency: Caller,
        stripe_payment: NewStripePayment,
        deliver: Deliver,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice = await addressed.sent((await addressed.manual_draft(10_000))["id"])
        invoice_id = uuid.UUID(invoice["id"])
        payment = stripe_payment(agency, invoice_id, invoice["total_cents"])
        intent = await payment.payment_intent(
            status="requires_payment_method",
            amount_received=0,
            last_payment_error={"type": "card_error", "message": "Your card was declined."},
        )

        await deliver(stripe_event("payment_intent.payment_failed", intent))

        [event] = await outbox_events(agency, "billing.invoice.payment_failed", invoice_id)
        assert event["data"] == {
            "invoice_id": invoice["id"],
            "client_id": str(addressed.client_id),
            "number": invoice["number"],
            "reason": "Your card was declined.",
            "amount_due_cents": invoice["total_cents"],
            "currency": "EUR",
            "payment_url": invoice["payment_url"],
            "bill_to": BILL_TO,
            "issuer": {
                **ISSUER,
                "timezone": event["data"]["issuer"]["timezone"],
                "slug": f"agency-{agency.agency_id.hex[:8]}",
            },
        }
