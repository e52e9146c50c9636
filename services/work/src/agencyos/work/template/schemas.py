import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import Cents, MultiLine, SingleLine
from agencyos.work.project.defaults import DEFAULT_COLUMNS
from agencyos.work.project.schemas import BillingType

TemplateName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Description = Annotated[str, StringConstraints(max_length=20_000), MultiLine]
ColumnName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
Color = Annotated[
    str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"), Field(description="`#RRGGBB`")
]
TaskTitle = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), SingleLine
]
MilestoneName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), SingleLine
]
DueOffset = Annotated[
    int,
    Strict(),
    Field(ge=0, le=3650, description="Days after the project's start date (today without one)"),
]
EstimateHours = Annotated[float, Field(ge=0, le=999_999.99)]


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TemplateSort(StrEnum):
    NAME = "name"
    NAME_DESC = "-name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"


class TemplateColumn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ColumnName
    color: Color = "#9CA3AF"
    status: TaskStatus = Field(description="The status a task in this column has")


class TemplateTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: TaskTitle
    description: Description | None = None
    status: TaskStatus = Field(
        default=TaskStatus.TODO,
        description="The task starts in the first column with this status (one must exist)",
    )
    priority: TaskPriority = TaskPriority.MEDIUM
    due_offset_days: DueOffset | None = None
    estimate_hours: EstimateHours | None = None
    labels: Annotated[list[Label], Field(max_length=20)] = Field(default_factory=list)
    milestone: MilestoneName | None = Field(
        default=None, description="The name of one of this template's milestones"
    )
    visible_to_client: bool = False


class TemplateMilestone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: MilestoneName = Field(description="Unique within the template")
    due_offset_days: DueOffset | None = None
    amount_cents: Cents | None = Field(default=None, description="Billed when it is completed")


Columns = Annotated[list[TemplateColumn], Field(min_length=1, max_length=50)]
Tasks = Annotated[list[TemplateTask], Field(max_length=500)]
Milestones = Annotated[list[TemplateMilestone], Field(max_length=100)]

_EXAMPLE: dict[str, Any] = {
    "name": "Website project",
    "description": "Discovery, design, build and launch",
    "billing_type": "fixed",
    "is_default": True,
    "columns": [
        {"name": "Backlog", "color": "#9CA3AF", "status": "todo"},
        {"name": "Doing", "color": "#3B82F6", "status": "in_progress"},
        {"name": "Client review", "color": "#F59E0B", "status": "review"},
        {"name": "Done", "color": "#10B981", "status": "done"},
    ],
    "tasks": [
        {
            "title": "Kick-off workshop",
            "priority": "high",
            "due_offset_days": 3,
            "estimate_hours": 4,
            "labels": ["discovery"],
            "milestone": "Discovery",
            "visible_to_client": True,
        },
        {"title": "Wireframes", "due_offset_days": 14, "estimate_hours": 16, "milestone": "Design"},
    ],
    "milestones": [
        {"name": "Discovery", "due_offset_days": 7, "amount_cents": 250_000},
        {"name": "Design", "due_offset_days": 21, "amount_cents": 500_000},
    ],
}


class TemplateCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    name: TemplateName
    description: Description | None = None
    billing_type: BillingType = BillingType.HOURLY
    is_default: bool = Field(
        default=False,
        description="Used for projects (and won deals) that name no template; setting it "
        "clears the agency's previous default",
    )
    columns: Columns = Field(
        default_factory=lambda: [TemplateColumn.model_validate(c) for c in DEFAULT_COLUMNS],
        description="The board, in order (default: To do, In progress, Review, Done)",
    )
    tasks: Tasks = Field(default_factory=list)
    milestones: Milestones = Field(default_factory=list)


class TemplateUpdate(BaseModel):
    """Only the fields sent change; `columns`, `tasks` and `milestones` are replaced whole.
    Projects made from the template earlier do not change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"is_default": True}, {"name": "Website project v2"}]},
    )

    name: Omittable[TemplateName] = None
    description: Description | None = None
    billing_type: Omittable[BillingType] = None
    is_default: Omittable[bool] = None
    columns: Omittable[Columns] = None
    tasks: Omittable[Tasks] = None
    milestones: Omittable[Milestones] = None


class Template(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    billing_type: BillingType
    is_default: bool
    columns: list[TemplateColumn]
    tasks: list[TemplateTask]
    milestones: list[TemplateMilestone]
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
