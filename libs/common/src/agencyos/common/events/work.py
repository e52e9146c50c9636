"""work's event contracts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agencyos.common.events.envelope import EventPayload, register


class ProjectState(BaseModel):
    """A project as it is right after the change an event reports: what other services keep
    of it (time's read model of projects). Every project event carries it (added later than
    the events: consumers take `project: null` as "not said")."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    client_id: uuid.UUID | None
    status: str
    billing_type: str
    hourly_rate_cents: int | None
    currency: str
    member_ids: list[uuid.UUID]
    changed_at: datetime


@register
class ProjectCreated(EventPayload):
    """A project was created; `deal_id` is set when it came from a won deal."""

    event_type: ClassVar[str] = "work.project.created"
    project_id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    created_by: uuid.UUID | None
    project: ProjectState | None = None


@register
class ProjectUpdated(EventPayload):
    """A project's fields changed (not its status: see work.project.status_changed)."""

    event_type: ClassVar[str] = "work.project.updated"
    project_id: uuid.UUID
    changed_fields: list[str]
    name: str
    client_id: uuid.UUID | None
    billing_type: str
    currency: str
    updated_by: uuid.UUID | None
    project: ProjectState | None = None


@register
class ProjectStatusChanged(EventPayload):
    event_type: ClassVar[str] = "work.project.status_changed"
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    old_status: str
    new_status: str
    changed_by: uuid.UUID | None
    project: ProjectState | None = None


class _TaskEvent(EventPayload):
    task_id: uuid.UUID
    project_id: uuid.UUID
    title: str
    status: str
    column_id: uuid.UUID
    assignee_ids: list[uuid.UUID]
    visible_to_client: bool
    # The task's optimistic-concurrency version after the change (`version` names the
    # payload schema's own version on every event class).
    task_version: int
    actor_id: uuid.UUID | None
    # Added later than the events: null on older ones.
    due_date: date | None = None
    # Where the card sits in its column (ascending), its priority and labels: with the
    # fields above, what a board needs to draw it without a refetch. Null on older events.
    position: float | None = None
    priority: str | None = None
    labels: list[str] | None = None


@register
class TaskCreated(_TaskEvent):
    event_type: ClassVar[str] = "work.task.created"


@register
class TaskUpdated(_TaskEvent):
    """`changed_fields` names the fields that changed; the rest is the task as it is now."""

    event_type: ClassVar[str] = "work.task.updated"
    changed_fields: list[str]


@register
class TaskMoved(_TaskEvent):
    """A task moved on the board (another column, or another place in the same one)."""

    event_type: ClassVar[str] = "work.task.moved"
    from_column_id: uuid.UUID
    position: float


@register
class TaskCompleted(_TaskEvent):
    event_type: ClassVar[str] = "work.task.completed"
    completed_at: datetime


@register
class TaskDeleted(EventPayload):
    """A task was deleted (with its checklist and comments): a board drops its card."""

    event_type: ClassVar[str] = "work.task.deleted"
    task_id: uuid.UUID
    project_id: uuid.UUID
    column_id: uuid.UUID
    title: str
    visible_to_client: bool
    actor_id: uuid.UUID | None


@register
class TaskAssigned(EventPayload):
    """One per member newly assigned to a task (at creation or by a change)."""

    event_type: ClassVar[str] = "work.task.assigned"
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    assignee_id: uuid.UUID
    assigned_by: uuid.UUID | None
    due_date: date | None = None


@register
class CommentCreated(EventPayload):
    """A comment on a task, with who is around it: the task's assignees and followers then
    (a mentioned member also gets `work.comment.mentioned`)."""

    event_type: ClassVar[str] = "work.comment.created"
    comment_id: uuid.UUID
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    author_id: uuid.UUID
    excerpt: str
    mentioned_user_ids: list[uuid.UUID]
    assignee_ids: list[uuid.UUID]
    follower_ids: list[uuid.UUID]
    # `internal` (the team only; also every event from before comments had a visibility) or
    # `client` (the client's users may read it too). An internal comment's event never
    # reaches a client user.
    visibility: Literal["internal", "client"] = "internal"


@register
class FeedbackReceived(EventPayload):
    """A client user's feedback became a task in their project."""

    event_type: ClassVar[str] = "work.feedback.received"
    task_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    author_id: uuid.UUID
    excerpt: str


@register
class CommentMentioned(EventPayload):
    """One per mentioned member of a task comment (for their notification)."""

    event_type: ClassVar[str] = "work.comment.mentioned"
    comment_id: uuid.UUID
    task_id: uuid.UUID
    project_id: uuid.UUID
    task_title: str
    mentioned_user_id: uuid.UUID
    author_id: uuid.UUID
    excerpt: str
    # The comment's visibility (see CommentCreated).
    visibility: Literal["internal", "client"] = "internal"


@register
class MilestoneCompleted(EventPayload):
    """Billing invoices `amount_cents` (when set) for a completed milestone."""

    event_type: ClassVar[str] = "work.milestone.completed"
    milestone_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    name: str
    amount_cents: int | None
    currency: str
    completed_at: datetime


class _DeliverableEvent(EventPayload):
    deliverable_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    title: str
    actor_id: uuid.UUID | None
    comment: str | None = None


@register
class DeliverableSubmitted(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.submitted"


@register
class DeliverableApproved(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.approved"


@register
class DeliverableChangesRequested(_DeliverableEvent):
    event_type: ClassVar[str] = "work.deliverable.changes_requested"


class _FileEvent(EventPayload):
    file_id: uuid.UUID
    project_id: uuid.UUID
    client_id: uuid.UUID | None
    task_id: uuid.UUID | None
    deliverable_id: uuid.UUID | None
    name: str
    content_type: str
    size_bytes: int
    # Shown to the project's client in the portal (the client's own uploads are too).
    shared_with_client: bool
    # Who uploaded it, and whether a client user did.
    uploaded_by: uuid.UUID
    uploaded_by_client: bool
    actor_id: uuid.UUID | None


@register
class FileUploaded(_FileEvent):
    """A file's upload was confirmed (its bytes are in object storage)."""

    event_type: ClassVar[str] = "work.file.uploaded"


@register
class FileDeleted(_FileEvent):
    """An uploaded file was deleted (its bytes too)."""

    event_type: ClassVar[str] = "work.file.deleted"
