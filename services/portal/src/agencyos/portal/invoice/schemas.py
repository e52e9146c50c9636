"""What a client user sees of its invoices: the client's document (number, dates, lines as
billed, totals, payments received) and what is still due. Never time entries, hourly rates,
costs, Stripe ids or payment references."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.peers import billing as billing_peer


class PortalInvoice(BaseModel):
    id: uuid.UUID
    number: str
    status: str = Field(description="sent | partially_paid | overdue | paid")
    issue_date: date | None
    due_date: date | None
    currency: str = Field(description="ISO 4217; every amount is in its minor units (cents)")
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int = Field(description="Payments received, less refunds")
    amount_due_cents: int = Field(description="What is still owed (never below 0)")
    overdue: bool = Field(description="Past its due date with money still due")
    payable: bool = Field(description="Whether `POST .../pay` makes a payment page for it")
    sent_at: datetime | None
    paid_at: datetime | None
    period_from: date | None
    period_to: date | None

    @classmethod
    def of(cls, invoice: billing_peer.ClientInvoice) -> "PortalInvoice":
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            subtotal_cents=invoice.subtotal_cents,
            tax_cents=invoice.tax_cents,
            total_cents=invoice.total_cents,
            amount_paid_cents=invoice.amount_paid_cents,
            amount_due_cents=invoice.amount_due_cents,
            overdue=invoice.overdue,
            payable=invoice.payable,
            sent_at=invoice.sent_at,
            paid_at=invoice.paid_at,
            period_from=invoice.period_from,
            period_to=invoice.period_to,
        )


class AmountDue(BaseModel):
    currency: str
    amount_due_cents: int
    invoice_count: int = Field(description="Open invoices in this currency")


class PortalInvoices(BaseModel):
    items: list[PortalInvoice]
    open_due: list[AmountDue] = Field(
        description=(
            "What the client's open invoices still owe, one row per currency, whatever the "
            "filter (empty when nothing is owed)"
        )
    )


class PortalInvoiceLine(BaseModel):
    description: str
    quantity: Decimal
    unit_price_cents: int
    amount_cents: int = Field(description="quantity x unit price, before tax")
    tax_rate_bps: int = Field(description="Tax rate in basis points (2000 = 20 %)")
    tax_cents: int


class PortalPayment(BaseModel):
    received_at: datetime
    amount_cents: int = Field(description="Below 0 for a refund")
    currency: str
    method: str = Field(description="stripe (paid online) | bank_transfer | cash | other")


class PortalInvoiceDetail(PortalInvoice):
    notes: str | None = Field(description="The notes printed on the invoice")
    issuer_name: str | None = Field(description="The agency, as named on the invoice")
    bill_to_name: str | None = Field(description="The client, as named on the invoice")
    lines: list[PortalInvoiceLine]
    payments: list[PortalPayment]

    @classmethod
    def of_detail(cls, invoice: billing_peer.ClientInvoice) -> "PortalInvoiceDetail":
        return cls(
            **PortalInvoice.of(invoice).model_dump(),
            notes=invoice.notes,
            issuer_name=invoice.issuer_name,
            bill_to_name=invoice.bill_to_name,
            lines=[
                PortalInvoiceLine(
                    description=line.description,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                    amount_cents=line.amount_cents,
                    tax_rate_bps=line.tax_rate_bps,
                    tax_cents=line.tax_cents,
                )
                for line in invoice.lines
            ],
            payments=[
                PortalPayment(
                    received_at=p.received_at,
                    amount_cents=p.amount_cents,
                    currency=p.currency,
                    method=p.method,
                )
                for p in invoice.payments
            ],
        )


class PortalCheckout(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3",
                    "amount_cents": 110_000,
                    "currency": "EUR",
                }
            ]
        }
    )

    url: str = Field(description="Stripe Checkout's page; it works for at most 24 hours")
    amount_cents: int = Field(description="What the page collects: all that is still due")
    currency: str
