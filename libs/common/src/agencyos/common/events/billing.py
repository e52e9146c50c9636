"""billing's event contracts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from agencyos.common.events.envelope import EventPayload, register


class BillTo(BaseModel):
    """Who an invoice is addressed to: the client's primary contact when it was sent."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    client_name: str
    contact_name: str | None
    email: str | None


class Issuer(BaseModel):
    """Who sends an invoice: the agency's name, logo and colour when it was sent, and the time
    zone its dates are in (what the client's emails about it are branded with). `slug` is the
    agency's slug when it was sent (its client portal is `/portal/<slug>/`; absent on invoices
    sent before it was kept)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    logo_url: str | None
    brand_color: str | None
    timezone: str | None
    slug: str | None = None


@register
class InvoiceSent(EventPayload):
    """An invoice was sent. `document_url` is a signed link to its PDF that needs no login."""

    event_type: ClassVar[str] = "billing.invoice.sent"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    currency: str
    due_date: date
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None
    document_url: str | None = None


@register
class InvoicePaid(EventPayload):
    """An invoice is paid in full; `amount_cents` is what this payment added."""

    event_type: ClassVar[str] = "billing.invoice.paid"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    amount_cents: int
    currency: str
    paid_at: datetime
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class InvoiceVoided(EventPayload):
    """A sent (or draft) invoice was voided; time releases its entries."""

    event_type: ClassVar[str] = "billing.invoice.voided"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str | None
    reason: str | None
    voided_at: datetime


@register
class InvoiceOverdue(EventPayload):
    event_type: ClassVar[str] = "billing.invoice.overdue"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    total_cents: int
    amount_due_cents: int
    currency: str
    due_date: date
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class InvoiceReminder(EventPayload):
    """A payment reminder is due: `days_from_due` is negative before the due date
    (-3 = three days before) and positive after it."""

    event_type: ClassVar[str] = "billing.invoice.reminder"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str
    amount_due_cents: int
    currency: str
    due_date: date
    days_from_due: int
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None


@register
class PaymentRecorded(EventPayload):
    """Money moved on an invoice: a payment (`amount_cents` > 0) or a refund (< 0), by
    `method` (stripe, bank_transfer, cash, other); `invoice_status` is the status after it."""

    event_type: ClassVar[str] = "billing.payment.recorded"
    payment_id: uuid.UUID
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    amount_cents: int
    currency: str
    method: str
    invoice_status: str
    amount_paid_cents: int


@register
class InvoicePaymentFailed(EventPayload):
    event_type: ClassVar[str] = "billing.invoice.payment_failed"
    invoice_id: uuid.UUID
    client_id: uuid.UUID
    number: str | None
    reason: str | None
    amount_due_cents: int | None = None
    currency: str | None = None
    payment_url: str | None = None
    bill_to: BillTo | None = None
    issuer: Issuer | None = None
