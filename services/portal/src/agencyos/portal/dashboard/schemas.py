"""The client's dashboard: its active projects, what awaits its decision, what it owes and
what happened lately. Never anything internal (rates, costs, internal tasks or comments)."""

import uuid
from datetime import date

from pydantic import BaseModel, Field

from agencyos.common.peers import billing as billing_peer
from agencyos.common.peers import work as work_peer
from agencyos.portal.activity.schemas import ActivityEntry
from agencyos.portal.project.schemas import PortalDeliverable, PortalProject


class AwaitingDeliverable(PortalDeliverable):
    """A submitted deliverable awaiting the client's decision, with its project's name."""

    project_name: str | None

    @classmethod
    def awaiting(
        cls, deliverable: work_peer.Deliverable, names: dict[uuid.UUID, str]
    ) -> "AwaitingDeliverable":
        return cls(
            **PortalDeliverable.of(deliverable).model_dump(),
            project_name=names.get(deliverable.project_id),
        )


class OpenInvoice(BaseModel):
    """A sent invoice that still owes money."""

    id: uuid.UUID
    number: str
    status: str = Field(description="`sent`, `partially_paid` or `overdue`")
    issue_date: date | None
    due_date: date | None
    currency: str
    total_cents: int
    amount_due_cents: int
    overdue: bool
    payable: bool = Field(description="Whether it can be paid online now")

    @classmethod
    def of(cls, invoice: billing_peer.ClientInvoice) -> "OpenInvoice":
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            issue_date=invoice.issue_date,
            due_date=invoice.due_date,
            currency=invoice.currency,
            total_cents=invoice.total_cents,
            amount_due_cents=invoice.amount_due_cents,
            overdue=invoice.overdue,
            payable=invoice.payable,
        )


class AmountDue(BaseModel):
    currency: str
    amount_due_cents: int
    invoice_count: int = Field(description="Open invoices in this currency")


class OpenInvoices(BaseModel):
    items: list[OpenInvoice] = Field(description="Newest issue date first")
    total_due: list[AmountDue] = Field(
        description="What the open invoices still owe, one row per currency (by currency)"
    )


class Dashboard(BaseModel):
    projects: list[PortalProject] = Field(
        description="The client's projects that are not completed or archived"
    )
    awaiting_decision: list[AwaitingDeliverable] = Field(
        description="Submitted deliverables of all the client's projects, oldest first"
    )
    invoices: OpenInvoices
    activity: list[ActivityEntry] = Field(description="What happened lately, newest first")
