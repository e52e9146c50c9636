"""What work's gRPC answers become on the caller's side: the typed values of projects, tasks,
deliverables, comments, milestones and files, and the functions that read them from messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from agencyos.common.peers._base import optional_uuid
from agencyos.protos.work.v1 import work_pb2


@dataclass(frozen=True)
class Milestone:
    """A project's milestone as its client may see it (work never answers its amount)."""

    id: uuid.UUID
    name: str
    due_date: date | None
    status: str  # open | completed
    completed_at: datetime | None


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    deal_id: uuid.UUID | None
    status: str
    billing_type: str  # hourly | fixed | retainer
    hourly_rate_cents: int | None  # the project's own rate, None when unset
    currency: str
    budget_cents: int | None
    start_date: date | None
    deadline: date | None
    progress: int  # done tasks over all tasks, in percent
    member_ids: frozenset[uuid.UUID]
    # The open milestone due first: answered by `client_projects` and
    # `project_with_milestones` only (None otherwise, or when none is open).
    next_milestone: Milestone | None = None
    # Every milestone by due date: answered by `project_with_milestones` only.
    milestones: tuple[Milestone, ...] = ()

    @property
    def billable_by_default(self) -> bool:
        """New time entries on hourly projects are billable unless said otherwise."""
        return self.billing_type == "hourly"


@dataclass(frozen=True)
class Task:
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    status: str
    priority: str
    due_date: date | None
    visible_to_client: bool


@dataclass(frozen=True)
class Deliverable:
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str | None
    link_url: str | None
    file_ref: str | None
    status: str
    submitted_at: datetime | None
    decided_at: datetime | None


@dataclass(frozen=True)
class Comment:
    """A client-visible comment on a task (work never answers internal ones here)."""

    id: uuid.UUID
    task_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime
    updated_at: datetime
    edited: bool


@dataclass(frozen=True)
class File:
    """A project's file as a client user may see it (metadata; bytes by a signed link)."""

    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    deliverable_id: uuid.UUID | None
    name: str
    content_type: str
    size_bytes: int
    status: str  # pending | uploaded
    shared_with_client: bool
    uploaded_by_client: bool
    created_at: datetime
    uploaded_at: datetime | None


@dataclass(frozen=True)
class SignedLink:
    """A short-lived download link."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class ClientProjectView:
    """The portal's project page: the project with its milestones, what its client sees."""

    project: Project
    tasks: list[Task]
    deliverables: list[Deliverable]
    files: list[File]


@dataclass(frozen=True)
class Upload:
    """A pending file and how to send its bytes: a multipart/form-data POST to `url` with
    `fields` first and the file last (field `file`), before `expires_at`."""

    file: File
    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class Membership:
    """Whether a user may log time on a project."""

    is_member: bool
    accepts_time: bool  # the project is planning or active
    status: str


@dataclass(frozen=True)
class ProjectTemplate:
    id: uuid.UUID
    name: str
    is_default: bool


def _day(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def _instant(raw: str) -> datetime | None:
    return datetime.fromisoformat(raw) if raw else None


def deliverable_of(message: work_pb2.Deliverable) -> Deliverable:
    return Deliverable(
        id=uuid.UUID(message.id),
        project_id=uuid.UUID(message.project_id),
        title=message.title,
        description=message.description or None,
        link_url=message.link_url or None,
        file_ref=message.file_ref or None,
        status=message.status,
        submitted_at=_instant(message.submitted_at),
        decided_at=_instant(message.decided_at),
    )


def comment_of(message: work_pb2.Comment) -> Comment:
    return Comment(
        id=uuid.UUID(message.id),
        task_id=uuid.UUID(message.task_id),
        author_id=uuid.UUID(message.author_id),
        body=message.body,
        created_at=datetime.fromisoformat(message.created_at),
        updated_at=datetime.fromisoformat(message.updated_at),
        edited=message.edited,
    )


def milestone_of(message: work_pb2.ProjectMilestone) -> Milestone:
    return Milestone(
        id=uuid.UUID(message.id),
        name=message.name,
        due_date=_day(message.due_date),
        status=message.status,
        completed_at=_instant(message.completed_at),
    )


def file_of(message: work_pb2.File) -> File:
    created_at = _instant(message.created_at)
    assert created_at is not None, "work always answers created_at"
    return File(
        id=uuid.UUID(message.id),
        project_id=uuid.UUID(message.project_id),
        task_id=optional_uuid(message.task_id),
        deliverable_id=optional_uuid(message.deliverable_id),
        name=message.name,
        content_type=message.content_type,
        size_bytes=message.size_bytes,
        status=message.status,
        shared_with_client=message.shared_with_client,
        uploaded_by_client=message.uploaded_by_client,
        created_at=created_at,
        uploaded_at=_instant(message.uploaded_at),
    )


def expiry_of(raw: str) -> datetime:
    moment = _instant(raw)
    assert moment is not None, "work always answers expires_at"
    return moment


def project_of(message: work_pb2.Project) -> Project:
    return Project(
        id=uuid.UUID(message.id),
        name=message.name,
        client_id=optional_uuid(message.client_id),
        deal_id=optional_uuid(message.deal_id),
        status=message.status,
        billing_type=message.billing_type,
        hourly_rate_cents=message.hourly_rate_cents or None,
        currency=message.currency,
        budget_cents=message.budget_cents or None,
        start_date=_day(message.start_date),
        deadline=_day(message.deadline),
        progress=message.progress,
        member_ids=frozenset(uuid.UUID(m) for m in message.member_ids),
        next_milestone=(
            milestone_of(message.next_milestone) if message.HasField("next_milestone") else None
        ),
        milestones=tuple(milestone_of(m) for m in message.milestones),
    )


def task_of(message: work_pb2.Task) -> Task:
    return Task(
        id=uuid.UUID(message.id),
        project_id=uuid.UUID(message.project_id),
        title=message.title,
        status=message.status,
        priority=message.priority,
        due_date=_day(message.due_date),
        visible_to_client=message.visible_to_client,
    )
