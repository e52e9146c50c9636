"""The typed client of billing's gRPC contract (`agencyos.billing.v1.BillingService`): what the
client portal asks billing for a client user (its client's sent invoices, one invoice with its
lines and payments, the PDF, a payment page). Billing scopes every answer by the token's agency
and client: another client's invoice, a draft or a void one raises NotFound."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.rpc import call, channel
from agencyos.protos.billing.v1 import billing_pb2, billing_pb2_grpc


class InvoiceFilter(StrEnum):
    OPEN = "open"  # sent, partially paid or overdue
    PAID = "paid"
    ALL = "all"


@dataclass(frozen=True)
class InvoiceLine:
    description: str
    quantity: Decimal
    unit_price_cents: int
    amount_cents: int  # before tax
    tax_rate_bps: int
    tax_cents: int


@dataclass(frozen=True)
class Payment:
    received_at: datetime
    amount_cents: int  # below 0 for a refund
    currency: str
    method: str  # stripe | bank_transfer | cash | other


@dataclass(frozen=True)
class ClientInvoice:
    """A sent invoice as its client sees it (the client's document: nothing internal)."""

    id: uuid.UUID
    number: str
    status: str  # sent | partially_paid | overdue | paid
    issue_date: date | None
    due_date: date | None
    currency: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int
    overdue: bool
    payable: bool
    sent_at: datetime | None
    paid_at: datetime | None
    period_from: date | None
    period_to: date | None
    notes: str | None
    issuer_name: str | None
    bill_to_name: str | None
    # Empty in lists; filled by `invoice`.
    lines: tuple[InvoiceLine, ...] = ()
    payments: tuple[Payment, ...] = ()


@dataclass(frozen=True)
class AmountDue:
    currency: str
    amount_due_cents: int
    invoice_count: int


@dataclass(frozen=True)
class ClientInvoices:
    invoices: list[ClientInvoice]
    # What the client's open invoices still owe per currency, whatever the filter.
    open_due: list[AmountDue]


@dataclass(frozen=True)
class InvoicePdf:
    content: bytes
    filename: str


@dataclass(frozen=True)
class Checkout:
    url: str
    amount_cents: int
    currency: str


def _day(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _instant(raw: str) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def invoice_of(message: billing_pb2.ClientInvoice) -> ClientInvoice:
    return ClientInvoice(
        id=uuid.UUID(message.id),
        number=message.number,
        status=message.status,
        issue_date=_day(message.issue_date),
        due_date=_day(message.due_date),
        currency=message.currency,
        subtotal_cents=message.subtotal_cents,
        tax_cents=message.tax_cents,
        total_cents=message.total_cents,
        amount_paid_cents=message.amount_paid_cents,
        amount_due_cents=message.amount_due_cents,
        overdue=message.overdue,
        payable=message.payable,
        sent_at=_instant(message.sent_at),
        paid_at=_instant(message.paid_at),
        period_from=_day(message.period_from),
        period_to=_day(message.period_to),
        notes=message.notes or None,
        issuer_name=message.issuer_name or None,
        bill_to_name=message.bill_to_name or None,
        lines=tuple(
            InvoiceLine(
                description=line.description,
                quantity=Decimal(line.quantity or "0"),
                unit_price_cents=line.unit_price_cents,
                amount_cents=line.amount_cents,
                tax_rate_bps=line.tax_rate_bps,
                tax_cents=line.tax_cents,
            )
            for line in message.lines
        ),
        payments=tuple(
            Payment(
                received_at=datetime.fromisoformat(p.received_at),
                amount_cents=p.amount_cents,
                currency=p.currency,
                method=p.method,
            )
            for p in message.payments
        ),
    )


class BillingClient:
    def __init__(self, target: str, timeout: float) -> None:
        self.target = target
        self.timeout = timeout

    @cached_property
    def stub(self) -> billing_pb2_grpc.BillingServiceStub:
        # Made at the first call, on the event loop (a client may be built in a sync FastAPI
        # dependency, which runs in a worker thread), then kept for the client's lifetime.
        return billing_pb2_grpc.BillingServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> BillingClient:
        return cls(settings.billing_grpc_target, settings.grpc_timeout_seconds)

    async def client_invoices(
        self, principal: Principal, status: InvoiceFilter = InvoiceFilter.ALL
    ) -> ClientInvoices:
        """The caller's client's sent invoices (newest first, without lines or payments) and
        what its open ones still owe per currency. PermissionDenied for a caller that is not a
        client user."""
        response = await call(
            self.stub.ListClientInvoices,
            billing_pb2.ListClientInvoicesRequest(status=status.value),
            principal=principal,
            timeout=self.timeout,
        )
        return ClientInvoices(
            invoices=[invoice_of(i) for i in response.invoices],
            open_due=[
                AmountDue(d.currency, d.amount_due_cents, d.invoice_count)
                for d in response.open_due
            ],
        )

    async def client_invoice(self, principal: Principal, invoice_id: uuid.UUID) -> ClientInvoice:
        """One invoice of the caller's client with its lines and payments; NotFound for a
        draft, a void invoice, another client's or another agency's."""
        message = await call(
            self.stub.GetClientInvoice,
            billing_pb2.ClientInvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return invoice_of(message)

    async def client_invoice_pdf(self, principal: Principal, invoice_id: uuid.UUID) -> InvoicePdf:
        """The invoice's PDF (NotFound as for `client_invoice`)."""
        message = await call(
            self.stub.GetClientInvoicePdf,
            billing_pb2.ClientInvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return InvoicePdf(content=message.content, filename=message.filename)

    async def create_checkout(self, principal: Principal, invoice_id: uuid.UUID) -> Checkout:
        """A fresh Stripe Checkout page for all the invoice still owes. PreconditionFailed when
        nothing is owed or it cannot be paid online, NotFound as for `client_invoice`,
        ServiceUnavailable when Stripe could not be reached."""
        message = await call(
            self.stub.CreateClientCheckout,
            billing_pb2.ClientInvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return Checkout(message.url, message.amount_cents, message.currency)
