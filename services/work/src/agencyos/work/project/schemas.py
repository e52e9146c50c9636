import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from agencyos.common.fields import Omittable
from agencyos.common.types import Cents, Currency, IsoDate, MultiLine, SingleLine
from agencyos.work.project.repository import ProjectView

ProjectName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Description = Annotated[str, StringConstraints(max_length=20_000), MultiLine]
BudgetHours = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
MemberIds = Annotated[list[uuid.UUID], Field(max_length=100)]
# Bounded so a template's due offsets can always be added to the start date.
ProjectDate = Annotated[IsoDate, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]


class ProjectStatus(StrEnum):
    PLANNING = "planning"
    ACTIVE = "active"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    ARCHIVED = "archived"


class BillingType(StrEnum):
    HOURLY = "hourly"
    FIXED = "fixed"
    RETAINER = "retainer"


class ProjectSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    DEADLINE = "deadline"
    DEADLINE_DESC = "-deadline"


def _deadline_not_before_start(deadline: date | None, info: ValidationInfo) -> date | None:
    start = info.data.get("start_date")
    if deadline is not None and start is not None and deadline < start:
        raise ValueError("deadline must not be before start_date")
    return deadline


class ProjectCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Website relaunch",
                    "description": "Redesign and CMS migration for Acme",
                    "client_id": "3f1c2b7a-9d4e-4c6b-8a2f-5e7d9c1b0a34",
                    "status": "active",
                    "billing_type": "fixed",
                    "currency": "EUR",
                    "budget_cents": 1_250_000,
                    "budget_hours": "120",
                    "start_date": "2026-12-01",
                    "deadline": "2027-02-28",
                    "template_id": "9b2e4f61-0c3d-4a8e-b5f7-2d1c6e8a9b40",
                    "member_ids": ["5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6"],
                },
                {"name": "Internal tooling", "billing_type": "hourly", "hourly_rate_cents": 9500},
            ]
        },
    )

    name: ProjectName
    description: Description | None = None
    client_id: uuid.UUID | None = Field(default=None, description="A client of the agency (CRM)")
    status: ProjectStatus = ProjectStatus.PLANNING
    billing_type: BillingType | None = Field(
        default=None, description="Default: the template's billing type, else `hourly`"
    )
    hourly_rate_cents: Cents | None = None
    currency: Currency | None = Field(
        default=None, description="ISO 4217; default: the client's currency, else USD"
    )
    budget_cents: Cents | None = None
    budget_hours: BudgetHours | None = None
    start_date: ProjectDate | None = Field(
        default=None, description="Template tasks' and milestones' due offsets count from it"
    )
    deadline: ProjectDate | None = Field(default=None, description="Not before `start_date`")
    template_id: uuid.UUID | None = Field(
        default=None,
        description=(
            "Copy this template's board, tasks and milestones; default: the agency's default "
            "template, else the default board"
        ),
    )
    member_ids: MemberIds = Field(
        default_factory=list,
        description="Active members of the agency to add (the creator is always a member)",
    )

    check_deadline = field_validator("deadline")(_deadline_not_before_start)


class ProjectUpdate(BaseModel):
    """Only the fields sent change; null clears an optional field. `deal_id`, the template and
    the members are not changed here (members: `/v1/projects/{id}/members`)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "active", "deadline": "2027-03-31"},
                {"name": "Website relaunch (phase 2)", "budget_cents": 1_500_000},
            ]
        },
    )

    name: Omittable[ProjectName] = None
    description: Description | None = None
    client_id: uuid.UUID | None = None
    status: Omittable[ProjectStatus] = None
    billing_type: Omittable[BillingType] = None
    hourly_rate_cents: Cents | None = None
    currency: Omittable[Currency] = None
    budget_cents: Cents | None = None
    budget_hours: BudgetHours | None = None
    start_date: ProjectDate | None = None
    deadline: ProjectDate | None = None

    check_deadline = field_validator("deadline")(_deadline_not_before_start)


class ProjectMember(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    added_by: uuid.UUID | None
    added_at: datetime


class ProjectMemberAdd(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"user_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6"}]},
    )

    user_id: uuid.UUID = Field(description="An active (non-client) member of the agency")


class Project(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    client_id: uuid.UUID | None
    deal_id: uuid.UUID | None = Field(description="The won deal the project came from, if any")
    template_id: uuid.UUID | None = Field(description="The template it was created from")
    status: ProjectStatus
    billing_type: BillingType
    hourly_rate_cents: int | None
    currency: str
    budget_cents: int | None
    budget_hours: float | None
    start_date: date | None
    deadline: date | None
    progress: int = Field(description="Done tasks over all tasks, in percent (0 without tasks)")
    task_count: int
    done_task_count: int
    members: list[ProjectMember]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, view: ProjectView) -> "Project":
        """From a `ProjectView` (the row with its counts and members)."""
        project = view.project
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            client_id=project.client_id,
            deal_id=project.deal_id,
            template_id=project.template_id,
            status=project.status,
            billing_type=project.billing_type,
            hourly_rate_cents=project.hourly_rate_cents,
            currency=project.currency,
            budget_cents=project.budget_cents,
            budget_hours=float(project.budget_hours) if project.budget_hours is not None else None,
            start_date=project.start_date,
            deadline=project.deadline,
            progress=view.progress,
            task_count=view.task_count,
            done_task_count=view.done_task_count,
            members=[ProjectMember.model_validate(m) for m in view.members],
            created_by=project.created_by,
            created_at=project.created_at,
            updated_at=project.updated_at,
        )
