import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import Cents, IsoDate, SingleLine
from agencyos.work.models import Milestone as MilestoneRow
from agencyos.work.models import Project

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
AmountCents = Annotated[
    Cents,
    Field(
        description="What completing it bills, in the project's currency's minor units",
    ),
]


class MilestoneStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class MilestoneSort(StrEnum):
    DUE_DATE = "due_date"
    DUE_DATE_DESC = "-due_date"
    NAME = "name"
    NAME_DESC = "-name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"


class MilestoneCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Design approved", "due_date": "2026-12-15", "amount_cents": 250_000},
                {"name": "Discovery"},
            ]
        },
    )
    name: Name
    due_date: IsoDate | None = None
    amount_cents: AmountCents | None = Field(
        default=None, description="Billed on completion (minor units); none: not billed"
    )


class MilestoneUpdate(BaseModel):
    """Only the fields sent change; null clears `due_date` or `amount_cents`. `status`
    `completed` completes the milestone exactly like `POST /v1/milestones/{id}/complete`
    (publishing `work.milestone.completed`); `open` reopens a completed one."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"due_date": "2027-01-10", "amount_cents": 300_000}, {"status": "open"}]
        },
    )
    name: Omittable[Name] = None
    due_date: IsoDate | None = None
    amount_cents: AmountCents | None = None
    status: Omittable[MilestoneStatus] = None


class Milestone(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    due_date: date | None
    amount_cents: int | None
    currency: str = Field(description="The project's currency (ISO 4217)")
    status: MilestoneStatus
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime


def milestone_out(milestone: MilestoneRow, project: Project) -> Milestone:
    return Milestone(
        id=milestone.id,
        project_id=milestone.project_id,
        name=milestone.name,
        due_date=milestone.due_date,
        amount_cents=milestone.amount_cents,
        currency=project.currency,
        status=MilestoneStatus(milestone.status),
        completed_at=milestone.completed_at,
        created_at=milestone.created_at,
        updated_at=milestone.updated_at,
    )
