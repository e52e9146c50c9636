"""Transactional emails from other services' events, and the brand read model they are
rendered with. Each handler runs in the consumer runner's transaction (tenant set, inbox row
written) and only queues rows: the delivery worker sends them. Queuing is idempotent per
event, recipient and template, so a redelivered event sends nothing twice.

Tokens (invitation, password reset, verification, sign-in) are never logged; their emails
are marked `contains_secret`, so the bodies are blanked once delivered."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import (
    AgencyCreated,
    AgencyUpdated,
    BillTo,
    CloudEvent,
    EmailVerificationRequested,
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
)
from agencyos.common.logs import get_logger
from agencyos.notification.email.brands import brand_of, on_agency_created, on_agency_updated
from agencyos.notification.email.message import Addressee, AttachmentLink, Brand
from agencyos.notification.email.queue import queue_email
from agencyos.notification.email.rendering import render_email
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)


@cache
def _settings() -> NotificationSettings:
    return NotificationSettings()


def public_url(path: str) -> str:
    """`path` (or a link a service made relative) under the public base URL."""
    return _settings().public_base_url.rstrip("/") + "/" + path.lstrip("/")


def _link(url: str | None) -> str | None:
    """A link from an event: absolute as it came, or made so under the public base URL."""
    if url is None or "://" in url:
        return url
    return public_url(url)


def invoice_page_url(
    issuer: Issuer | None, invoice_id: uuid.UUID, payment_url: str | None
) -> str | None:
    """Where an invoice email sends the client to pay: the invoice's page in the agency's
    client portal, which makes a new payment page whenever the client pays (a link that works
    as long as the invoice is open). An invoice sent before its agency's slug was kept has
    only the payment page the event carries (it lives 24 hours)."""
    if issuer is None or not issuer.slug:
        return _link(payment_url)
    settings = _settings()
    base = (settings.portal_base_url or settings.public_base_url).rstrip("/")
    return f"{base}/portal/{quote(issuer.slug, safe='')}/invoices/{invoice_id}"


def _token(token: str) -> str:
    return quote(token, safe="")


async def _send(
    session: AsyncSession,
    event: CloudEvent,
    template: str,
    to: Addressee,
    context: Mapping[str, Any],
    *,
    contains_secret: bool = False,
    attachments: tuple[AttachmentLink, ...] = (),
    brand: Brand | None = None,
) -> None:
    if brand is None:
        brand = await brand_of(session, event.tenantid)
    rendered = render_email(template, {"recipient_name": to.name, **context}, brand)
    queued = await queue_email(
        session,
        tenant_id=event.tenantid,
        source_event_id=event.id,
        template=template,
        to=to,
        rendered=rendered,
        contains_secret=contains_secret,
        attachments=attachments,
    )
    if not queued:
        log.info("email already queued", template=template, event_id=str(event.id))


# --- identity -------------------------------------------------------------------------------


async def on_invitation_created(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvitationCreated)
    await _send(
        session,
        event,
        "invitation",
        Addressee(email=payload.email),
        {
            "agency_name": payload.agency_name,
            "inviter_name": payload.inviter_name,
            "role": payload.role,
            "accept_url": public_url(f"/v1/invitations/{_token(payload.token)}/accept"),
            "expires_at": payload.expires_at,
        },
        contains_secret=True,
    )


async def on_password_reset_requested(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(PasswordResetRequested)
    await _send(
        session,
        event,
        "password_reset",
        Addressee(email=payload.email, name=payload.name, user_id=payload.user_id),
        {
            "reset_url": public_url(
                f"/v1/auth/password-reset/confirm?token={_token(payload.token)}"
            ),
            "expires_at": payload.expires_at,
        },
        contains_secret=True,
    )


async def on_email_verification_requested(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(EmailVerificationRequested)
    await _send(
        session,
        event,
        "email_verification",
        Addressee(email=payload.email, name=payload.name, user_id=payload.user_id),
        {
            "verify_url": public_url(f"/v1/auth/verify-email?token={_token(payload.token)}"),
            "expires_at": payload.expires_at,
        },
        contains_secret=True,
    )


def magic_link_url(payload: MagicLinkRequested) -> str:
    """A client user's link opens the client portal's page for it (a button there spends it:
    mail scanners follow links); anyone else's the API's verify address."""
    token = _token(payload.token)
    if payload.role == "client":
        settings = _settings()
        base = (settings.portal_base_url or settings.public_base_url).rstrip("/")
        slug = quote(payload.agency_slug, safe="")
        return f"{base}/portal/{slug}/sign-in/link?token={token}"
    return public_url(f"/v1/auth/magic-link/verify?token={token}")


async def on_magic_link_requested(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MagicLinkRequested)
    await _send(
        session,
        event,
        "magic_link",
        Addressee(email=payload.email, name=payload.name, user_id=payload.user_id),
        {
            "sign_in_url": magic_link_url(payload),
            "expires_at": payload.expires_at,
        },
        contains_secret=True,
    )


async def on_sign_in_from_new_device(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(SignInFromNewDevice)
    await _send(
        session,
        event,
        "new_device_sign_in",
        Addressee(email=payload.email, name=payload.name, user_id=payload.user_id),
        {
            "agency_name": payload.agency_name,
            "device": payload.user_agent or "an unknown device",
            "ip_address": payload.ip_address or "an unknown address",
            "signed_in_at": payload.signed_in_at,
            "sessions_url": public_url("/v1/sessions"),
            "reset_url": public_url("/v1/auth/password-reset"),
        },
    )


# --- billing: to the client's primary contact -----------------------------------------------


def _issued_by(issuer: Issuer | None, currency: str | None) -> Brand | None:
    """The brand an invoice was sent under, from its event: the agency as it was then, even
    before (or without) identity's agency events reaching this service."""
    if issuer is None:
        return None
    try:
        zone = ZoneInfo(issuer.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return Brand(
        name=issuer.name,
        logo_url=issuer.logo_url,
        brand_color=issuer.brand_color,
        timezone=zone,
        currency=currency or "USD",
    )


def _bill_to(event: CloudEvent, bill_to: BillTo | None) -> Addressee | None:
    if bill_to is None or not bill_to.email:
        log.info(
            "no email to send the invoice email to",
            event_type=event.type,
            event_id=str(event.id),
            invoice_id=str(event.data.get("invoice_id")),
        )
        return None
    return Addressee(email=bill_to.email, name=bill_to.contact_name or bill_to.client_name)


async def on_invoice_sent(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceSent)
    to = _bill_to(event, payload.bill_to)
    if to is None or payload.bill_to is None:
        return
    document_url = _link(payload.document_url)
    attachments = (
        (AttachmentLink(f"invoice-{payload.number}.pdf", "application/pdf", document_url),)
        if document_url
        else ()
    )
    await _send(
        session,
        event,
        "invoice_sent",
        to,
        {
            "client_name": payload.bill_to.client_name,
            "number": payload.number,
            "total_cents": payload.total_cents,
            "currency": payload.currency,
            "due_date": payload.due_date,
            "pay_url": invoice_page_url(payload.issuer, payload.invoice_id, payload.payment_url),
            "document_url": document_url,
        },
        attachments=attachments,
        brand=_issued_by(payload.issuer, payload.currency),
    )


async def on_invoice_reminder(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceReminder)
    to = _bill_to(event, payload.bill_to)
    if to is None:
        return
    await _send(
        session,
        event,
        "payment_reminder",
        to,
        {
            "number": payload.number,
            "amount_due_cents": payload.amount_due_cents,
            "currency": payload.currency,
            "due_date": payload.due_date,
            "days_from_due": payload.days_from_due,
            "pay_url": invoice_page_url(payload.issuer, payload.invoice_id, payload.payment_url),
        },
        brand=_issued_by(payload.issuer, payload.currency),
    )


async def on_invoice_overdue(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceOverdue)
    to = _bill_to(event, payload.bill_to)
    if to is None:
        return
    await _send(
        session,
        event,
        "invoice_overdue",
        to,
        {
            "number": payload.number,
            "amount_due_cents": payload.amount_due_cents,
            "currency": payload.currency,
            "due_date": payload.due_date,
            "pay_url": invoice_page_url(payload.issuer, payload.invoice_id, payload.payment_url),
        },
        brand=_issued_by(payload.issuer, payload.currency),
    )


async def on_invoice_paid(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoicePaid)
    to = _bill_to(event, payload.bill_to)
    if to is None:
        return
    await _send(
        session,
        event,
        "payment_receipt",
        to,
        {
            "number": payload.number,
            "amount_cents": payload.amount_cents,
            "total_cents": payload.total_cents,
            "currency": payload.currency,
            "paid_at": payload.paid_at,
        },
        brand=_issued_by(payload.issuer, payload.currency),
    )


async def on_invoice_payment_failed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoicePaymentFailed)
    to = _bill_to(event, payload.bill_to)
    if to is None:
        return
    await _send(
        session,
        event,
        "payment_failed",
        to,
        {
            "number": payload.number,
            "amount_due_cents": payload.amount_due_cents,
            "currency": payload.currency,
            "reason": payload.reason,
            "pay_url": invoice_page_url(payload.issuer, payload.invoice_id, payload.payment_url),
        },
        brand=_issued_by(payload.issuer, payload.currency),
    )


EMAIL_HANDLERS: dict[str, Handler] = {
    AgencyCreated.event_type: on_agency_created,
    AgencyUpdated.event_type: on_agency_updated,
    InvitationCreated.event_type: on_invitation_created,
    PasswordResetRequested.event_type: on_password_reset_requested,
    EmailVerificationRequested.event_type: on_email_verification_requested,
    MagicLinkRequested.event_type: on_magic_link_requested,
    SignInFromNewDevice.event_type: on_sign_in_from_new_device,
    InvoiceSent.event_type: on_invoice_sent,
    InvoiceReminder.event_type: on_invoice_reminder,
    InvoiceOverdue.event_type: on_invoice_overdue,
    InvoicePaid.event_type: on_invoice_paid,
    InvoicePaymentFailed.event_type: on_invoice_payment_failed,
}
