import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from agencyos.billing.invoice.money import QUANTITY_STEP
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Invoice as InvoiceRow
from agencyos.billing.models import InvoiceLine as InvoiceLineRow
from agencyos.common.fields import Omittable
from agencyos.common.types import BasisPoints, Currency, IsoDate, MultiLine, SignedCents

MAX_PRICE_CENTS = 10**10
MAX_LINES = 500

Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), MultiLine
]
Notes = Annotated[str, StringConstraints(max_length=5000), MultiLine]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000), MultiLine]
TaxRateBps = Annotated[BasisPoints, Field(description="Tax rate in basis points (1900 = 19 %)")]
DueInDays = Annotated[
    int, Strict(), Field(ge=0, le=365, description="Days from the issue date to the due date")
]
Quantity = Annotated[
    Decimal,
    Field(
        gt=0,
        le=Decimal("99999999.9999"),
        max_digits=12,
        decimal_places=4,
        description="How many units (up to 4 decimals), e.g. 2.5 hours",
    ),
]
UnitPriceCents = Annotated[
    SignedCents,
    Field(
        ge=-MAX_PRICE_CENTS,
        le=MAX_PRICE_CENTS,
        description="Price per unit in minor units (a JSON integer). Negative prices are "
        "allowed: a discount or credit line lowers the invoice's total. The invoice as a whole "
        "must still total above zero to be sent (a draft at zero or below is refused, 409); "
        "credit notes are not issued.",
    ),
]


class IncludeSource(StrEnum):
    TIME = "time"
    MILESTONES = "milestones"


class GroupBy(StrEnum):
    MEMBER = "member"
    TASK = "task"
    PROJECT = "project"


class LineSource(StrEnum):
    TIME = "time"
    MILESTONE = "milestone"
    MANUAL = "manual"


class InvoiceSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    ISSUE_DATE = "issue_date"
    ISSUE_DATE_DESC = "-issue_date"
    DUE_DATE = "due_date"
    DUE_DATE_DESC = "-due_date"
    NUMBER = "number"
    NUMBER_DESC = "-number"
    TOTAL = "total_cents"
    TOTAL_DESC = "-total_cents"


class InvoiceCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_id": "0b5c7f0e-4a57-4d0a-9d4b-2f1c5b1e9a10",
                    "period_from": "2026-11-01",
                    "period_to": "2026-11-30",
                    "include": ["time", "milestones"],
                    "group_by": "member",
                },
                {"client_id": "0b5c7f0e-4a57-4d0a-9d4b-2f1c5b1e9a10", "include": []},
            ]
        },
    )
    client_id: uuid.UUID
    project_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=100,
        description="Only these projects of the client (all of its projects when empty)",
    )
    period_from: IsoDate | None = Field(default=None, description="Time logged on or after")
    period_to: IsoDate | None = Field(
        default=None, description="Time logged on or before (inclusive)"
    )
    include: list[IncludeSource] = Field(
        default_factory=lambda: [IncludeSource.TIME, IncludeSource.MILESTONES],
        max_length=2,
        description=(
            "What to bill: unbilled approved billable `time`, completed unbilled `milestones`. "
            "An empty list makes an empty draft for manual lines."
        ),
    )
    group_by: GroupBy = Field(
        default=GroupBy.PROJECT,
        description="One time line per member, task or project, and per hourly rate",
    )
    due_in_days: DueInDays | None = Field(
        default=None, description="Defaults to the agency's payment terms (billing settings)"
    )
    notes: Notes | None = None
    currency: Currency | None = Field(
        default=None,
        description="ISO 4217; defaults to the client's currency, else the agency's",
    )
    tax_rate_bps: TaxRateBps | None = Field(
        default=None,
        description="Tax rate of the generated lines; defaults to the agency's default rate",
    )


class InvoiceUpdate(BaseModel):
    """Only the fields sent change (drafts only); `notes: null` clears the notes."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"due_in_days": 14, "notes": "Thanks!"}]}
    )
    notes: Notes | None = None
    due_in_days: Omittable[DueInDays] = None


class LineCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"description": "Hosting, December", "quantity": 1, "unit_price_cents": 4900},
                {
                    "description": "Loyalty discount",
                    "quantity": 1,
                    "unit_price_cents": -5000,
                    "tax_rate_bps": 1900,
                },
            ]
        },
    )
    description: Description
    quantity: Quantity
    unit_price_cents: UnitPriceCents
    tax_rate_bps: TaxRateBps | None = Field(
        default=None, description="Defaults to the agency's default tax rate"
    )


class LineUpdate(BaseModel):
    """Only the fields sent change. Lines made from time or a milestone take a new
    `description` or `tax_rate_bps` only: their quantity and price come from what they bill."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"quantity": 2, "tax_rate_bps": 0}]}
    )
    description: Omittable[Description] = None
    quantity: Omittable[Quantity] = None
    unit_price_cents: Omittable[UnitPriceCents] = None
    tax_rate_bps: Omittable[TaxRateBps] = None


class InvoiceVoid(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "Issued to the wrong client"}]}
    )
    reason: Reason | None = None


class InvoiceLine(BaseModel):
    id: uuid.UUID
    position: int
    description: str
    quantity: Decimal = Field(description='Decimal string with 4 places, e.g. "1.3333"')
    unit_price_cents: int
    amount_cents: int = Field(description="Rounded half up once, on this line")
    tax_rate_bps: int
    tax_cents: int = Field(description="amount x rate / 10000, rounded half up")
    source_type: LineSource
    time_entry_ids: list[uuid.UUID]
    milestone_id: uuid.UUID | None
    project_id: uuid.UUID | None


class InvoiceSummary(BaseModel):
    id: uuid.UUID
    client_id: uuid.UUID
    project_ids: list[uuid.UUID]
    number: str | None = Field(description="Assigned when sent (e.g. INV-0042); null for drafts")
    status: InvoiceStatus
    currency: str
    issue_date: date | None
    due_date: date | None
    due_in_days: int
    period_from: date | None
    period_to: date | None
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int
    notes: str | None
    payment_url: str | None = Field(description="Stripe Checkout page, once sent")
    sent_at: datetime | None
    paid_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class Invoice(InvoiceSummary):
    lines: list[InvoiceLine]


class StatusTotals(BaseModel):
    """The invoices of one status in one currency, across every page of the list."""

    status: InvoiceStatus
    currency: str
    count: int
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int


class InvoiceList(BaseModel):
    items: list[InvoiceSummary]
    total: int
    page: int
    per_page: int
    totals: list[StatusTotals] = Field(
        description=(
            "Sums per status and currency over every invoice matching the filters (not just "
            "this page); amounts in different currencies are never added together"
        )
    )


def line_out(line: InvoiceLineRow) -> InvoiceLine:
    return InvoiceLine(
        id=line.id,
        position=line.position,
        description=line.description,
        quantity=Decimal(line.quantity).quantize(QUANTITY_STEP),
        unit_price_cents=line.unit_price_cents,
        amount_cents=line.amount_cents,
        tax_rate_bps=line.tax_rate_bps,
        tax_cents=line.tax_cents,
        source_type=LineSource(line.source_type),
        time_entry_ids=list(line.time_entry_ids),
        milestone_id=line.milestone_id,
        project_id=line.project_id,
    )


def _summary_fields(invoice: InvoiceRow) -> dict[str, object]:
    return {
        "id": invoice.id,
        "client_id": invoice.client_id,
        "project_ids": list(invoice.project_ids),
        "number": invoice.number,
        "status": InvoiceStatus(invoice.status),
        "currency": invoice.currency,
        "issue_date": invoice.issue_date,
        "due_date": invoice.due_date,
        "due_in_days": invoice.due_in_days,
        "period_from": invoice.period_from,
        "period_to": invoice.period_to,
        "subtotal_cents": invoice.subtotal_cents,
        "tax_cents": invoice.tax_cents,
        "total_cents": invoice.total_cents,
        "amount_paid_cents": invoice.amount_paid_cents,
        "amount_due_cents": invoice.amount_due_cents,
        "notes": invoice.notes,
        "payment_url": invoice.payment_url,
        "sent_at": invoice.sent_at,
        "paid_at": invoice.paid_at,
        "voided_at": invoice.voided_at,
        "void_reason": invoice.void_reason,
        "version": invoice.version,
        "created_at": invoice.created_at,
        "updated_at": invoice.updated_at,
    }


def summary_out(invoice: InvoiceRow) -> InvoiceSummary:
    return InvoiceSummary.model_validate(_summary_fields(invoice))


def invoice_out(invoice: InvoiceRow, lines: list[InvoiceLineRow]) -> Invoice:
    return Invoice.model_validate(
        {**_summary_fields(invoice), "lines": [line_out(line) for line in lines]}
    )
