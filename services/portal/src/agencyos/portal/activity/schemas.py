"""An entry of the client's recent activity, as the portal answers it."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from agencyos.portal.activity.kinds import ActivityKind
from agencyos.portal.models import Activity


class ActivityEntry(BaseModel):
    """Something that happened that the client may see. Which ids are set follows `kind`:
    a task's for task and comment kinds, a deliverable's, or an invoice's."""

    id: uuid.UUID
    kind: ActivityKind
    occurred_at: datetime
    title: str = Field(description="The task's or deliverable's title, or the invoice's number")
    project_id: uuid.UUID | None
    project_name: str | None
    task_id: uuid.UUID | None
    deliverable_id: uuid.UUID | None
    invoice_id: uuid.UUID | None
    status: str | None = Field(description="A task's status after the change")
    comment: str | None = Field(
        description="The comment sent with a deliverable or with the client's decision on it"
    )
    amount_cents: int | None = Field(description="An invoice's total, in `currency`")
    currency: str | None

    @classmethod
    def of(cls, row: Activity) -> "ActivityEntry":
        return cls(
            id=row.id,
            kind=ActivityKind(row.kind),
            occurred_at=row.occurred_at,
            title=row.title,
            project_id=row.project_id,
            project_name=row.project_name,
            task_id=row.task_id,
            deliverable_id=row.deliverable_id,
            invoice_id=row.invoice_id,
            status=row.status,
            comment=row.comment,
            amount_cents=row.amount_cents,
            currency=row.currency,
        )
