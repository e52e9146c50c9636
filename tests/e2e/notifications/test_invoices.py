"""Invoice notices through the whole platform: an invoice made and sent through billing's API
emails the client's primary contact (amount, due date, a link to the invoice's page in the
client portal to pay it, the PDF attached and linked without a login) and tells the agency's
invoice readers in the app; Stripe's signed webhooks make it paid (a receipt to the contact)
or report a failed payment (an email to the contact and to the readers).

An invoice becomes overdue only on the day after its due date in the agency's zone (due in 0
days at the soonest): no request makes one overdue in a test's time, so billing's
`billing.invoice.overdue` for a really sent invoice is written to its topic as the scheduler
writes it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from agencyos.common.events import BillTo, InvoiceOverdue, build_event
from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.inbox import link_to, notices_about, one_email, open_link, wait_for_notice
from agencyos.testing.kafka import topic_writer
from agencyos.testing.mailpit import Mailpit, unique_address
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.stripe_webhooks import (
    signed_request,
    stripe_event,
    stripe_id,
    stripe_object,
)

pytestmark = pytest.mark.e2e

INVOICE_KINDS = ("invoice.sent", "invoice.paid", "invoice.payment_failed")


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def client_with_contact(
    gateway: httpx.AsyncClient, owner: AgencySession, email: str
) -> dict[str, Any]:
    client = await create_client(gateway, owner, currency="EUR")
    await ok(
        await gateway.post(
            f"/v1/clients/{client['id']}/contacts",
            json={"name": "Hank Scorpio", "email": email, "is_primary": True},
            headers=owner.headers,
        ),
        201,
    )
    return client


async def sent_invoice(
    gateway: httpx.AsyncClient, owner: AgencySession, client: dict[str, Any], cents: int
) -> dict[str, Any]:
    """A one-line invoice (no tax) for `client`, due in 14 days, sent."""
    draft = await ok(
        await gateway.post(
            "/v1/invoices",
            json={"client_id": client["id"], "include": [], "due_in_days": 14, "tax_rate_bps": 0},
            headers=owner.headers,
        ),
        201,
    )
    await ok(
        await gateway.post(
            f"/v1/invoices/{draft['id']}/lines",
            json={
                "description": "Brand strategy",
                "quantity": 1,
                "unit_price_cents": cents,
                "tax_rate_bps": 0,
            },
            headers=owner.headers,
        ),
        201,
    )
    return await ok(await gateway.post(f"/v1/invoices/{draft['id']}/send", headers=owner.headers))


async def stripe_says(
    platform: Platform,
    gateway: httpx.AsyncClient,
    owner: AgencySession,
    invoice: dict[str, Any],
    event_type: str,
    **fields: Any,
) -> None:
    """Stripe's signed `event_type` about the invoice's Checkout Session."""
    session_id = await fetch_value(
        platform.infra,
        platform.database("billing"),
        "SELECT stripe_checkout_session_id FROM invoices WHERE id = $1",
        uuid.UUID(invoice["id"]),
        tenant_id=owner.agency_id,
    )
    session = await stripe_object(platform.stripe_api_base, "checkout/sessions")
    session.update(
        id=session_id,
        mode="payment",
        payment_intent=stripe_id("pi"),
        currency="eur",
        client_reference_id=invoice["id"],
        metadata={"invoice_id": invoice["id"], "tenant_id": str(owner.agency_id)},
        **fields,
    )
    body, headers = signed_request(
        stripe_event(event_type, session), platform.stripe_webhook_secret
    )
    delivered = await gateway.post("/v1/webhooks/stripe", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text


def day(value: str) -> str:
    d = date.fromisoformat(value)
    return f"{d.day} {d:%B %Y}"


def of_invoice(invoice: dict[str, Any]) -> Any:
    return lambda n: n["data"]["invoice_id"] == invoice["id"]


class TestASentInvoice:
    async def test_emails_the_contact_the_pdf_and_tells_the_readers_but_not_a_member(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        contact = unique_address("billing")
        client = await client_with_contact(gateway, agency, contact)

        invoice = await sent_invoice(gateway, agency, client, 123_456)

        message = await one_email(mailpit, contact, invoice["number"])
        brand = (await ok(await gateway.get("/v1/agency", headers=agency.headers)))["name"]
        assert message.to == [contact]
        assert message.from_name == brand
        assert message.subject == f"Invoice {invoice['number']} from {brand}: 1,234.56 EUR"
        assert "Hello Hank Scorpio," in message.text
        assert "1,234.56 EUR" in message.text
        assert f"Due:     {day(invoice['due_date'])}" in message.text
        # "Pay the invoice" leads to the invoice's page in the agency's client portal (which
        # makes a fresh payment page), not to the Checkout page that lives 24 hours
        assert invoice["payment_url"].startswith("https://")
        assert invoice["payment_url"] not in message.links
        assert link_to(platform, message, "/portal/") == (
            f"/portal/{agency.slug}/invoices/{invoice['id']}"
        )
        [attachment] = message.attachments
        assert (attachment.filename, attachment.content_type) == (
            f"invoice-{invoice['number']}.pdf",
            "application/pdf",
        )
        assert (await mailpit.attachment(message, attachment)).startswith(b"%PDF")
        document = await open_link(gateway, link_to(platform, message, "/document"))  # no token
        assert document.status_code == 200, document.text
        assert document.headers["content-type"].startswith("application/pdf")
        assert document.content.startswith(b"%PDF")

        notice = await wait_for_notice(gateway, agency, "invoice.sent", of_invoice(invoice))
        assert notice["title"] == (
            f"Invoice {invoice['number']} was sent to {client['company_name']}"
        )
        assert notice["body"] == f"1,234.56 EUR, due {invoice['due_date']}."
        opened = await open_link(gateway, notice["link"], agency)
        assert opened.status_code == 200, opened.text
        assert opened.json()["number"] == invoice["number"]
        # a later invoice's notice proves the first was handled: the member (no
        # invoices.read) heard of neither
        later = await sent_invoice(gateway, agency, client, 100)
        await wait_for_notice(gateway, agency, "invoice.sent", of_invoice(later))
        for sent in (invoice, later):
            assert (
                await notices_about(gateway, member, "invoice.sent", "invoice_id", sent["id"]) == []
            )


class TestStripeOnAnInvoice:
    async def test_a_payment_sends_a_receipt_and_a_failed_one_a_warning(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        contact = unique_address("payer")
        client = await client_with_contact(gateway, agency, contact)
        paid = await sent_invoice(gateway, agency, client, 50_000)
        refused = await sent_invoice(gateway, agency, client, 70_000)

        await stripe_says(
            platform,
            gateway,
            agency,
            paid,
            "checkout.session.completed",
            status="complete",
            payment_status="paid",
            amount_subtotal=50_000,
            amount_total=50_000,
        )
        await stripe_says(
            platform,
            gateway,
            agency,
            refused,
            "checkout.session.async_payment_failed",
            status="complete",
            payment_status="unpaid",
            amount_total=70_000,
        )

        receipt = await one_email(
            mailpit, contact, f"Payment received for invoice {paid['number']}"
        )
        assert receipt.to == [contact]
        assert f"invoice {paid['number']} is paid in full" in receipt.text
        assert "Payment:       500.00 EUR" in receipt.text
        told = await wait_for_notice(gateway, agency, "invoice.paid", of_invoice(paid))
        assert told["title"] == f"Invoice {paid['number']} was paid"
        assert told["body"] == "500.00 EUR received in full."
        opened = await open_link(gateway, told["link"], agency)
        assert opened.json()["status"] == "paid"

        warning = await one_email(mailpit, contact, f"invoice {refused['number']} did not go")
        assert warning.to == [contact]
        assert "Amount due: 700.00 EUR" in warning.text
        assert link_to(platform, warning, "/portal/") == (
            f"/portal/{agency.slug}/invoices/{refused['id']}"
        )
        failed = await wait_for_notice(
            gateway, agency, "invoice.payment_failed", of_invoice(refused)
        )
        assert failed["title"] == f"A payment for invoice {refused['number']} failed"
        assert "bank debit" in failed["body"]
        # invoice.payment_failed emails the agency's readers by default too
        readers = await one_email(mailpit, agency.email, failed["title"])
        assert link_to(platform, readers, f"/v1/invoices/{refused['id']}")
        assert (await open_link(gateway, failed["link"], agency)).json()["status"] == "sent"
        for kind in INVOICE_KINDS:
            for invoice in (paid, refused):
                assert await notices_about(gateway, member, kind, "invoice_id", invoice["id"]) == []


class TestAnOverdueInvoice:
    async def test_reminds_the_contact_and_tells_the_readers_by_email_and_in_the_app(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        contact = unique_address("late")
        client = await client_with_contact(gateway, agency, contact)
        invoice = await sent_invoice(gateway, agency, client, 80_000)
        overdue = build_event(
            InvoiceOverdue(
                invoice_id=uuid.UUID(invoice["id"]),
                client_id=uuid.UUID(client["id"]),
                number=invoice["number"],
                total_cents=80_000,
                amount_due_cents=80_000,
                currency="EUR",
                due_date=date.fromisoformat(invoice["due_date"]),
                payment_url=invoice["payment_url"],
                bill_to=BillTo(
                    client_name=client["company_name"], contact_name="Hank Scorpio", email=contact
                ),
            ),
            tenant_id=agency.agency_id,
            source_service="billing",
            subject=f"invoices/{invoice['id']}",
        )

        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(f"{platform.topic_prefix}billing.events", overdue)

        reminder = await one_email(mailpit, contact, f"Invoice {invoice['number']} is overdue")
        assert reminder.to == [contact]
        assert "800.00 EUR" in reminder.text
        # an event without the agency's slug (from before billing kept it) keeps its Checkout link
        assert invoice["payment_url"] in reminder.links
        notice = await wait_for_notice(gateway, agency, "invoice.overdue", of_invoice(invoice))
        assert notice["title"] == f"Invoice {invoice['number']} is overdue"
        assert notice["body"] == f"800.00 EUR was due {invoice['due_date']}."
        readers = await one_email(mailpit, agency.email, notice["title"])
        path = link_to(platform, readers, f"/v1/invoices/{invoice['id']}")
        opened = await open_link(gateway, path, agency)
        assert opened.status_code == 200, opened.text
        assert opened.json()["number"] == invoice["number"]
        assert (
            await notices_about(gateway, member, "invoice.overdue", "invoice_id", invoice["id"])
            == []
        )
