"""Transactional emails: each event handed to notification's consumer runner queues the
right email to the right address, with working links, once however often it is delivered."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from agencyos.common.events import (
    BillTo,
    CloudEvent,
    EmailVerificationRequested,
    EventPayload,
    InvitationCreated,
    InvoiceOverdue,
    InvoicePaid,
    InvoicePaymentFailed,
    InvoiceReminder,
    InvoiceSent,
    Issuer,
    MagicLinkRequested,
    PasswordResetRequested,
    SignInFromNewDevice,
    build_event,
)
from agencyos.testing.inprocess import Agency, InProcess

from .test_brands import agency_updated

BASE = "http://127.0.0.1:8080"
TOKEN = "tok_abc+/="
EXPIRES = datetime.now(UTC) + timedelta(days=2)


def event(agency: Agency, payload: EventPayload, source: str) -> CloudEvent:
    return build_event(payload, tenant_id=agency.id, source_service=source)


def address() -> str:
    return f"p-{uuid.uuid4().hex[:10]}@example.com"


def bill_to(email: str | None) -> BillTo:
    return BillTo(client_name="Globex", contact_name="Hank", email=email)


async def emails(in_process: InProcess, agency: Agency, to: str) -> list[Any]:
    service = await in_process.service("notification")
    return await service.rows(
        "SELECT * FROM email_deliveries WHERE lower(to_email) = lower($1)", to, tenant_id=agency.id
    )


class TestIdentityEmails:
    async def test_an_invitation_is_emailed_with_its_accept_link(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        invitation = InvitationCreated(
            agency_id=tenant.id,
            agency_name="Acme",
            invitation_id=uuid.uuid4(),
            email=to,
            role="member",
            invited_by=uuid.uuid4(),
            inviter_name="Ada",
            token=TOKEN,
            expires_at=EXPIRES,
        )

        assert (
            await in_process.deliver("notification", event(tenant, invitation, "identity")) == "ok"
        )

        [row] = await emails(in_process, tenant, to)
        link = f"{BASE}/v1/invitations/tok_abc%2B%2F%3D/accept"
        assert row["template"] == "invitation"
        assert link in row["text"]
        assert f'href="{link}"' in row["html"]
        assert row["subject"] == "Ada invited you to join Acme on AgencyOS"
        assert row["contains_secret"] is True
        assert row["status"] == "queued"

    @pytest.mark.parametrize(
        ("payload_type", "template", "path"),
        [
            (PasswordResetRequested, "password_reset", "/v1/auth/password-reset/confirm?token="),
            (EmailVerificationRequested, "email_verification", "/v1/auth/verify-email?token="),
            (MagicLinkRequested, "magic_link", "/v1/auth/magic-link/verify?token="),
        ],
    )
    async def test_a_token_email_goes_to_the_user_with_its_link(
        self,
        in_process: InProcess,
        tenant: Agency,
        payload_type: type[EventPayload],
        template: str,
        path: str,
    ) -> None:
        to = address()
        user_id = uuid.uuid4()
        fields: dict[str, Any] = {
            "user_id": user_id,
            "email": to,
            "name": "Grace",
            "token": TOKEN,
            "expires_at": EXPIRES,
        }
        if payload_type is MagicLinkRequested:
            fields |= {"agency_id": tenant.id, "agency_slug": "acme"}

        await in_process.deliver("notification", event(tenant, payload_type(**fields), "identity"))

        [row] = await emails(in_process, tenant, to)
        assert row["template"] == template
        assert (row["to_name"], row["user_id"]) == ("Grace", user_id)
        assert f"{BASE}{path}tok_abc%2B%2F%3D" in row["text"]
        assert "Hello Grace," in row["text"]
        assert row["contains_secret"] is True

    async def test_a_client_users_sign_in_link_opens_the_portals_page_for_it(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        payload = MagicLinkRequested(
            agency_id=tenant.id,
            agency_slug="acme",
            user_id=uuid.uuid4(),
            email=to,
            name="Grace",
            token=TOKEN,
            expires_at=EXPIRES,
            role="client",
        )

        await in_process.deliver("notification", event(tenant, payload, "identity"))

        [row] = await emails(in_process, tenant, to)
        link = f"{BASE}/portal/acme/sign-in/link?token=tok_abc%2B%2F%3D"
        assert link in row["text"]
        assert f'href="{link}"' in row["html"]
        assert "/v1/auth/magic-link/verify" not in row["text"]

    async def test_a_sign_in_from_a_new_device_is_told_to_the_user_once(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        user_id = uuid.uuid4()
        notice = event(
            tenant,
            SignInFromNewDevice(
                agency_id=tenant.id,
                agency_name="Acme",
                user_id=user_id,
                email=to,
                name="Grace",
                user_agent="Mozilla/5.0 (Macintosh) Safari/605.1",
                ip_address="203.0.113.7",
                signed_in_at=datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
            ),
            "identity",
        )

        await in_process.deliver("notification", notice)
        await in_process.deliver("notification", notice)  # redelivered

        [row] = await emails(in_process, tenant, to)
        assert row["template"] == "new_device_sign_in"
        assert (row["to_name"], row["user_id"]) == ("Grace", user_id)
        assert row["subject"] == "New sign-in to your AgencyOS account"
        for text in ("Acme", "Mozilla/5.0 (Macintosh) Safari/605.1", "203.0.113.7"):
            assert text in row["text"]
            assert text in row["html"]
        assert f"{BASE}/v1/sessions" in row["text"]
        # no secret in it: the body is kept
        assert row["contains_secret"] is False


def invoice_sent(agency: Agency, to: str | None, **changes: Any) -> CloudEvent:
    values: dict[str, Any] = {
        "invoice_id": uuid.uuid4(),
        "client_id": uuid.uuid4(),
        "number": "INV-0042",
        "total_cents": 250000,
        "currency": "EUR",
        "due_date": date(2027, 1, 31),
        "payment_url": "https://pay.example.com/s/1",
        "bill_to": bill_to(to),
        "document_url": "/v1/invoices/x/document?signature=s",
    }
    return event(agency, InvoiceSent(**(values | changes)), "billing")


class TestInvoiceEmails:
    async def test_a_sent_invoice_is_emailed_to_the_contact_with_its_pdf_and_pay_link(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()

        await in_process.deliver("notification", invoice_sent(tenant, to))

        [row] = await emails(in_process, tenant, to)
        assert row["template"] == "invoice_sent"
        assert row["to_name"] == "Hank"
        assert "Hello Hank," in row["text"]
        assert "2,500.00 EUR" in row["subject"]
        assert "https://pay.example.com/s/1" in row["text"]
        assert row["contains_secret"] is False
        [attachment] = json.loads(row["attachments"])
        assert attachment == {
            "filename": "invoice-INV-0042.pdf",
            "content_type": "application/pdf",
            "url": f"{BASE}/v1/invoices/x/document?signature=s",
        }

    async def test_a_redelivered_invoice_event_queues_one_email(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        sent = invoice_sent(tenant, to)

        outcomes = [await in_process.deliver("notification", sent) for _ in range(2)]
        # and once more as if the inbox had forgotten it: the queue itself refuses the twin
        service = await in_process.service("notification")
        await service.rows("DELETE FROM inbox WHERE event_id = $1", sent.id, tenant_id=tenant.id)
        outcomes.append(await in_process.deliver("notification", sent))

        assert outcomes == ["ok", "duplicate", "ok"]
        assert len(await emails(in_process, tenant, to)) == 1

    async def test_without_an_email_to_send_to_nothing_is_queued(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        for sent in (invoice_sent(tenant, None), invoice_sent(tenant, None, bill_to=None)):
            assert await in_process.deliver("notification", sent) == "ok"

        service = await in_process.service("notification")
        assert await service.rows("SELECT 1 FROM email_deliveries", tenant_id=tenant.id) == []

    async def test_a_reminder_an_overdue_notice_a_receipt_and_a_failed_payment(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        common: dict[str, Any] = {
            "invoice_id": uuid.uuid4(),
            "client_id": uuid.uuid4(),
            "bill_to": bill_to(to),
        }
        events = [
            InvoiceReminder(
                **common,
                number="INV-1",
                amount_due_cents=1000,
                currency="USD",
                due_date=date(2027, 1, 31),
                days_from_due=3,
                payment_url=None,
            ),
            InvoiceOverdue(
                **common,
                number="INV-1",
                total_cents=1000,
                amount_due_cents=1000,
                currency="USD",
                due_date=date(2027, 1, 31),
            ),
            InvoicePaid(
                **common,
                number="INV-1",
                total_cents=1000,
                amount_cents=1000,
                currency="USD",
                paid_at=datetime(2027, 2, 3, 12, 0, tzinfo=UTC),
            ),
            InvoicePaymentFailed(**common, number="INV-1", reason="card declined"),
        ]

        for payload in events:
            assert (
                await in_process.deliver("notification", event(tenant, payload, "billing")) == "ok"
            )

        rows = await emails(in_process, tenant, to)
        assert sorted(r["template"] for r in rows) == [
            "invoice_overdue",
            "payment_failed",
            "payment_receipt",
            "payment_reminder",
        ]
        by_template = {r["template"]: r for r in rows}
        assert "was due 3 days ago" in by_template["payment_reminder"]["text"]
        assert "10.00 USD" in by_template["payment_receipt"]["text"]
        assert "card declined" in by_template["payment_failed"]["text"]


def issued_by(slug: str | None) -> Issuer:
    return Issuer(name="Acme Studio", logo_url=None, brand_color=None, timezone="UTC", slug=slug)


class TestInvoicePayLinks:
    """An invoice email's pay link leads to the invoice's page in the agency's client portal
    (which makes a fresh payment page whenever the client pays), not to the Checkout page the
    event carries, which lives 24 hours."""

    async def test_a_sent_invoice_links_to_its_portal_page(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        sent = invoice_sent(tenant, to, issuer=issued_by("acme-studio"))

        await in_process.deliver("notification", sent)

        [row] = await emails(in_process, tenant, to)
        page = f"{BASE}/portal/acme-studio/invoices/{sent.data['invoice_id']}"
        assert f"Pay the invoice: {page}" in row["text"]
        assert f'href="{page}"' in row["html"]
        assert "https://pay.example.com/s/1" not in row["text"]
        assert "https://pay.example.com/s/1" not in row["html"]

    async def test_reminders_overdue_notices_and_failed_payments_link_there_too(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()
        invoice_id = uuid.uuid4()
        common: dict[str, Any] = {
            "invoice_id": invoice_id,
            "client_id": uuid.uuid4(),
            "bill_to": bill_to(to),
            "issuer": issued_by("acme-studio"),
            "number": "INV-7",
            "amount_due_cents": 1000,
            "currency": "USD",
            "payment_url": "https://pay.example.com/s/old",
        }
        due = date(2027, 1, 31)
        for payload in (
            InvoiceReminder(**common, due_date=due, days_from_due=-3),
            InvoiceOverdue(**common, total_cents=1000, due_date=due),
            InvoicePaymentFailed(**common, reason="card declined"),
        ):
            assert (
                await in_process.deliver("notification", event(tenant, payload, "billing")) == "ok"
            )

        rows = await emails(in_process, tenant, to)
        assert len(rows) == 3
        page = f"{BASE}/portal/acme-studio/invoices/{invoice_id}"
        for row in rows:
            assert page in row["text"], row["template"]
            assert "pay.example.com" not in row["text"] + row["html"], row["template"]

    async def test_without_the_agencys_slug_the_checkout_link_stays(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        to = address()

        await in_process.deliver("notification", invoice_sent(tenant, to, issuer=issued_by(None)))

        [row] = await emails(in_process, tenant, to)
        assert "Pay the invoice: https://pay.example.com/s/1" in row["text"]
        assert "/portal/" not in row["text"]


class TestBranding:
    async def test_an_email_carries_the_agency_s_brand_once_it_is_known(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        await in_process.deliver(
            "notification", agency_updated(tenant, at=datetime.now(UTC), name="Acme Studio")
        )
        to = address()

        await in_process.deliver("notification", invoice_sent(tenant, to, currency="JPY"))

        [row] = await emails(in_process, tenant, to)
        assert "Acme Studio" in row["html"]
        assert "#112233" in row["html"]
        assert "250,000 JPY" in row["text"]

    async def test_an_invoice_email_is_branded_as_sent_even_before_the_agency_is_known(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        # identity's agency events may still be on their way (another topic): the invoice's
        # own event says who sent it, in which zone.
        to = address()
        issuer = Issuer(
            name="Northwind Studio",
            logo_url=None,
            brand_color="#1A73E8",
            timezone="America/New_York",
        )

        await in_process.deliver("notification", invoice_sent(tenant, to, issuer=issuer))

        [row] = await emails(in_process, tenant, to)
        assert "Northwind Studio" in row["html"]
        assert "#1A73E8" in row["html"]
        assert "AgencyOS" not in row["subject"]
