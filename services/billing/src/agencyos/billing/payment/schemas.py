"""Payments on an invoice: what a caller records by hand, and how a payment reads back."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.types import SingleLine, Timestamp

# Stripe payments arrive only through the signed webhook, never through this API.
ManualMethod = Literal["bank_transfer", "cash", "other"]
# Far above any invoice; keeps a typo from overflowing BIGINT sums.
MAX_PAYMENT_CENTS = 10**13


class PaymentCreate(BaseModel):
    """Money received outside Stripe (a bank transfer, cash, ...)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount_cents": 50_000,
                    "method": "bank_transfer",
                    "reference": "SEPA 2026-12-03 / INV-0042",
                    "received_at": "2026-12-03T09:30:00Z",
                }
            ]
        },
    )

    amount_cents: int = Field(
        strict=True,
        gt=0,
        le=MAX_PAYMENT_CENTS,
        description="What was received, in the invoice's currency's minor units; at most "
        "the amount still due (`total_cents - amount_paid_cents`)",
    )
    method: ManualMethod = Field(description="bank_transfer, cash or other")
    reference: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=255), SingleLine] | None
    ) = Field(default=None, description="The bank's reference, a receipt number, ...")
    received_at: Timestamp | None = Field(
        default=None,
        description="When the money arrived (RFC 3339 with an offset); default now. Not in "
        "the future.",
    )


class Payment(BaseModel):
    """A payment (`amount_cents` > 0) or a refund (`amount_cents` < 0) on an invoice."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    invoice_id: uuid.UUID
    kind: Literal["payment", "refund"]
    amount_cents: int = Field(description="> 0 a payment, < 0 a refund")
    currency: str
    method: Literal["stripe", "bank_transfer", "cash", "other"]
    reference: str | None
    stripe_payment_intent_id: str | None
    stripe_charge_id: str | None
    received_at: datetime
    recorded_by: uuid.UUID | None = Field(
        description="Who recorded it by hand; null for Stripe payments and refunds"
    )
    created_at: datetime

    @classmethod
    def fields_of(cls, row: Any) -> dict[str, Any]:
        values = {name: getattr(row, name) for name in cls.model_fields if name != "kind"}
        values["kind"] = "payment" if row.amount_cents > 0 else "refund"
        return values

    @classmethod
    def of(cls, row: Any) -> "Payment":
        return cls(**cls.fields_of(row))


class InvoiceBalance(BaseModel):
    """Where the invoice stands after a payment."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    status: str
    currency: str
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int
    paid_at: datetime | None


class PaymentRecorded(Payment):
    """The payment just recorded and the invoice's balance after it."""

    invoice: InvoiceBalance


class StripeWebhookAck(BaseModel):
    """The webhook's answer. Stripe only looks at the status code; `outcome` is for people
    reading logs: `processed`, `ignored` (an event type billing does not act on, or an event
    for no invoice of ours) or `duplicate` (this event id was handled before)."""

    received: bool = True
    event_id: str
    outcome: Literal["processed", "ignored", "duplicate"]
