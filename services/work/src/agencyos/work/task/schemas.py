import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from agencyos.common.fields import Omittable
from agencyos.common.types import IsoDate, MultiLine, SingleLine
from agencyos.work.models import Comment as CommentRow
from agencyos.work.models import TaskActivity
from agencyos.work.task.repository import TaskView

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), SingleLine
]
Markdown = Annotated[str, StringConstraints(max_length=50_000), MultiLine]
Label = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), SingleLine
]
EstimateHours = Annotated[Decimal, Field(ge=0, max_digits=8, decimal_places=2)]
Ids = Annotated[list[uuid.UUID], Field(max_length=100)]


class TaskStatus(StrEnum):
    TODO = "todo"
    IN_PROGRESS = "in_progress"
    REVIEW = "review"
    DONE = "done"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class TaskSort(StrEnum):
    BOARD = "board"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"
    DUE_DATE = "due_date"
    DUE_DATE_DESC = "-due_date"
    PRIORITY = "priority"
    PRIORITY_DESC = "-priority"
    TITLE = "title"
    TITLE_DESC = "-title"


# Fields PATCH may not clear with null (they always have a value).
NOT_NULLABLE = ("title", "priority", "assignee_ids", "labels", "visible_to_client", "blocked_by")


class SubtaskCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"title": "Write the hero copy", "done": False}]},
    )

    title: Title
    done: bool = False


class SubtaskUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"done": True}, {"title": "Write the hero copy (v2)"}]},
    )

    title: Omittable[Title] = None
    done: Omittable[bool] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> "SubtaskUpdate":
        for name in ("title", "done"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Subtask(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    task_id: uuid.UUID
    title: str
    done: bool
    position: int = Field(description="Order within the task's checklist (0 first)")
    created_at: datetime
    updated_at: datetime


class TaskCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Design the landing page",
                    "description": "Hero, pricing and **FAQ** sections. See the brief.",
                    "status": "todo",
                    "priority": "high",
                    "assignee_ids": ["5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6"],
                    "due_date": "2026-12-15",
                    "estimate_hours": 12.5,
                    "labels": ["design", "web"],
                    "subtasks": [
                        {"title": "Wireframe", "done": True},
                        {"title": "High-fidelity mockup"},
                    ],
                    "blocked_by": ["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"],
                    "visible_to_client": True,
                },
                {
                    "title": "Fix the contact form",
                    "column_id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
                },
            ]
        },
    )

    title: Title
    description: Markdown | None = Field(default=None, description="Markdown")
    column_id: uuid.UUID | None = Field(
        default=None, description="A column of the project's board; default: see `status`"
    )
    status: TaskStatus | None = Field(
        default=None,
        description=(
            "Place the task in the first column with this status. With `column_id` it must be "
            "that column's status. Neither: the board's first column."
        ),
    )
    priority: Priority = Priority.MEDIUM
    assignee_ids: Ids = Field(default_factory=list, description="Members of the project")
    due_date: IsoDate | None = None
    estimate_hours: EstimateHours | None = Field(default=None, description="Hours, ≥ 0")
    labels: Annotated[list[Label], Field(max_length=50)] = Field(default_factory=list)
    milestone_id: uuid.UUID | None = Field(
        default=None, description="A milestone of the same project"
    )
    subtasks: Annotated[list[SubtaskCreate], Field(max_length=100)] = Field(
        default_factory=list, description="Checklist items, in order"
    )
    blocked_by: Ids = Field(
        default_factory=list, description="Tasks of the same project that block this one"
    )
    visible_to_client: bool = Field(default=False, description="Shown in the client portal")


class TaskUpdate(BaseModel):
    """Only the fields sent change; null clears `description`, `due_date`, `estimate_hours`
    and `milestone_id`. `assignee_ids`, `labels` and `blocked_by` replace the whole list. The
    column and status change only by `POST /v1/tasks/{id}/move`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"priority": "urgent", "due_date": "2026-12-10"},
                {"assignee_ids": ["5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6"], "labels": ["web"]},
                {"blocked_by": ["0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"]},
            ]
        },
    )

    title: Omittable[Title] = None
    description: Markdown | None = None
    priority: Omittable[Priority] = None
    assignee_ids: Omittable[Ids] = None
    due_date: IsoDate | None = None
    estimate_hours: EstimateHours | None = None
    labels: Omittable[Annotated[list[Label], Field(max_length=50)]] = None
    milestone_id: uuid.UUID | None = None
    blocked_by: Omittable[Ids] = Field(
        default=None,
        description="Tasks of the same project that block this one; a cycle is refused",
    )
    visible_to_client: Omittable[bool] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> "TaskUpdate":
        for name in NOT_NULLABLE:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class TaskMove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "column_id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
                    "before_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                },
                {
                    "column_id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
                    "after_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                },
                {"column_id": "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918"},
            ]
        },
    )

    column_id: uuid.UUID = Field(description="The target column (of the task's project)")
    before_id: uuid.UUID | None = Field(
        default=None, description="Place the task right above this task of the target column"
    )
    after_id: uuid.UUID | None = Field(
        default=None, description="Place the task right below this task of the target column"
    )


class TaskSummary(BaseModel):
    """A task as a board card or list row."""

    id: uuid.UUID
    project_id: uuid.UUID
    column_id: uuid.UUID
    title: str
    status: TaskStatus = Field(description="Always the status of the task's column")
    priority: Priority
    assignee_ids: list[uuid.UUID]
    due_date: date | None
    estimate_hours: float | None
    labels: list[str]
    milestone_id: uuid.UUID | None
    visible_to_client: bool
    position: float = Field(description="Order within the column (ascending)")
    version: int = Field(description="Optimistic-concurrency version (`ETag`, `If-Match`)")
    completed_at: datetime | None
    subtasks_total: int
    subtasks_done: int
    blocked_by: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class Task(TaskSummary):
    """A task with its description, checklist and dependencies."""

    description: str | None = Field(description="Markdown")
    subtasks: list[Subtask]
    blocking: list[uuid.UUID] = Field(description="Tasks that this one blocks")
    created_by: uuid.UUID | None


# --- comments -------------------------------------------------------------------------------

COMMENT_BODY_DESCRIPTION = (
    "Markdown. Mention a member as `@[Name](user-uuid)` in the text (or list them in "
    "`mentions`); each mentioned user must be a member of the task's project (422 naming "
    "`mentions` otherwise). Every mentioned member except the author gets a "
    "`work.comment.mentioned` event, once per comment (an edit notifies only newly added "
    "mentions)."
)

CommentBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), MultiLine
]


CommentVisibility = Literal["internal", "client"]
VISIBILITY_DESCRIPTION = (
    "`internal` (the default): the agency's team only. `client`: also the users of the "
    "project's client, in the portal; only on a task visible to the client."
)


class CommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "body": (
                        "@[Dana Scully](5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6) can you review "
                        "the **pricing** section?"
                    )
                },
                {
                    "body": "Ready for review.",
                    "mentions": ["5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6"],
                },
            ]
        },
    )

    body: CommentBody = Field(description=COMMENT_BODY_DESCRIPTION)
    mentions: Ids = Field(
        default_factory=list,
        description="Members to mention in addition to the `@[Name](id)` ones in the body",
    )
    visibility: CommentVisibility = Field(default="internal", description=VISIBILITY_DESCRIPTION)


class CommentUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Ready for review (fixed the typo)."}]},
    )

    body: CommentBody = Field(description=COMMENT_BODY_DESCRIPTION)
    mentions: Ids | None = Field(
        default=None,
        description="Replaces the extra mentions; omitted: the comment's current ones are kept",
    )
    visibility: Omittable[CommentVisibility] = Field(
        default=None,
        description=VISIBILITY_DESCRIPTION + " Omitted: unchanged.",
    )


class Comment(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    task_id: uuid.UUID
    author_id: uuid.UUID
    body: str = Field(description="Markdown")
    mentions: list[uuid.UUID] = Field(description="The mentioned users")
    visibility: CommentVisibility = Field(description=VISIBILITY_DESCRIPTION)
    edited: bool
    created_at: datetime
    updated_at: datetime


class Follower(BaseModel):
    """A member who follows a task (hears about its comments)."""

    model_config = ConfigDict(from_attributes=True)

    user_id: uuid.UUID
    followed_at: datetime


# --- activity -------------------------------------------------------------------------------


class FieldChange(BaseModel):
    field: str
    old: Any = None
    new: Any = None


class Activity(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID
    actor_id: uuid.UUID | None = Field(description="Who made the change (null: the system)")
    action: str = Field(
        description=(
            "created, updated, moved, completed, reopened, deleted, subtask_added, "
            "subtask_updated, subtask_removed, comment_added, comment_edited, comment_deleted"
        )
    )
    changes: list[FieldChange] = Field(description="Each changed field with old and new value")
    occurred_at: datetime


# --- from the read models -------------------------------------------------------------------


def _summary_fields(view: TaskView) -> dict[str, Any]:
    task = view.task
    return {
        "id": task.id,
        "project_id": task.project_id,
        "column_id": task.column_id,
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "assignee_ids": list(task.assignee_ids),
        "due_date": task.due_date,
        "estimate_hours": float(task.estimate_hours) if task.estimate_hours is not None else None,
        "labels": list(task.labels),
        "milestone_id": task.milestone_id,
        "visible_to_client": task.visible_to_client,
        "position": task.position,
        "version": task.version,
        "completed_at": task.completed_at,
        "subtasks_total": view.extras.subtasks_total,
        "subtasks_done": view.extras.subtasks_done,
        "blocked_by": list(view.extras.blocked_by),
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def task_summary(view: TaskView) -> TaskSummary:
    return TaskSummary(**_summary_fields(view))


def task_detail(view: TaskView) -> Task:
    return Task(
        **_summary_fields(view),
        description=view.task.description,
        subtasks=[Subtask.model_validate(s) for s in view.subtasks],
        blocking=list(view.blocking),
        created_by=view.task.created_by,
    )


def comment_out(comment: CommentRow) -> Comment:
    return Comment(
        id=comment.id,
        task_id=comment.task_id,
        author_id=comment.author_id,
        body=comment.body,
        mentions=list(comment.mentions),
        visibility=cast(CommentVisibility, comment.visibility),
        edited=comment.updated_at != comment.created_at,
        created_at=comment.created_at,
        updated_at=comment.updated_at,
    )


def activity_out(entry: TaskActivity) -> Activity:
    return Activity(
        id=entry.id,
        project_id=entry.project_id,
        task_id=entry.task_id,
        actor_id=entry.actor_id,
        action=entry.action,
        changes=[FieldChange(**c) for c in entry.changes],
        occurred_at=entry.occurred_at,
    )
