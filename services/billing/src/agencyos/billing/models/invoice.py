import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Base
from agencyos.common.db import TenantScoped, Timestamped, utcnow

LINE_SOURCES = ("time", "milestone", "manual")
# The scheduler's read-across-agencies flag (see the migration).
SCHEDULER_SETTING = "app.billing_scheduler"


class Invoice(TenantScoped, Timestamped, Base):
    """An invoice to one client in one currency. Money is integer minor units (cents);
    `total_cents = subtotal_cents + tax_cents` always (a database check)."""

    __tablename__ = "invoices"

    client_id: Mapped[uuid.UUID]
    project_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    number: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(20), default=InvoiceStatus.DRAFT.value)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date | None] = mapped_column(Date, default=None)
    # the agency's IANA time zone when sent: its dates (issue, due) are days there
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    due_in_days: Mapped[int] = mapped_column(Integer, default=30)
    period_from: Mapped[date | None] = mapped_column(Date, default=None)
    period_to: Mapped[date | None] = mapped_column(Date, default=None)
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    payment_url: Mapped[str | None] = mapped_column(Text, default=None)
    stripe_checkout_session_id: Mapped[str | None] = mapped_column(String(255), default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    void_reason: Mapped[str | None] = mapped_column(Text, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Whom it was addressed to and from whom, as CRM and identity had them when it was sent
    # (null on drafts and on invoices sent before these were kept).
    bill_to_client_name: Mapped[str | None] = mapped_column(Text, default=None)
    bill_to_contact_name: Mapped[str | None] = mapped_column(Text, default=None)
    bill_to_email: Mapped[str | None] = mapped_column(Text, default=None)
    bill_to_address: Mapped[list[str] | None] = mapped_column(ARRAY(Text), default=None)
    issuer_name: Mapped[str | None] = mapped_column(Text, default=None)
    issuer_brand_color: Mapped[str | None] = mapped_column(String(32), default=None)
    issuer_logo_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    # The agency's slug when it was sent: its client portal's address (null before 0005).
    issuer_slug: Mapped[str | None] = mapped_column(String(63), default=None)

    @property
    def amount_due_cents(self) -> int:
        return max(self.total_cents - self.amount_paid_cents, 0)


class InvoiceLine(TenantScoped, Timestamped, Base):
    """One line: `amount_cents` = quantity x unit price and `tax_cents` = amount x rate, each
    rounded once on the line (see billing/invoice/money.py for the rule)."""

    __tablename__ = "invoice_lines"

    invoice_id: Mapped[uuid.UUID]
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    tax_rate_bps: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    source_type: Mapped[str] = mapped_column(String(20), default="manual")
    time_entry_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    milestone_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None)


class InvoiceNumberCounter(Base):
    """The last number an agency issued; sending locks this row (gapless numbering)."""

    __tablename__ = "invoice_number_counters"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class InvoiceReminder(Base):
    """A reminder or overdue notice already published for an invoice (`kind` is "overdue"
    or "reminder:<days from due>")."""

    __tablename__ = "invoice_reminders"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    invoice_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
