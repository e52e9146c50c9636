"""The typed client of work's gRPC contract (`agencyos.work.v1.WorkService`): what other
services ask about projects, tasks and templates. (The portal's methods join it when the portal
calls them.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.common.peers._base import ByIdMemo, optional_uuid
from agencyos.common.rpc import call, call_for_ids, channel
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc


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


class WorkClient:
    def __init__(self, target: str, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._projects: ByIdMemo[Project] = ByIdMemo()
        self._tasks: ByIdMemo[Task] = ByIdMemo()

    @cached_property
    def stub(self) -> work_pb2_grpc.WorkServiceStub:
        # Made at the first call, on the event loop (a client may be built in a sync FastAPI
        # dependency, which runs in a worker thread), then kept for the client's lifetime.
        return work_pb2_grpc.WorkServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> WorkClient:
        return cls(settings.work_grpc_target, settings.grpc_timeout_seconds)

    async def projects(
        self, principal: Principal, project_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Project]:
        """The projects among `project_ids` the caller may see (members: their own; managers:
        all); the others are absent."""
        return await self._projects.get(
            principal, project_ids, lambda ids: self._fetch_projects(principal, ids)
        )

    async def project(self, principal: Principal, project_id: uuid.UUID) -> Project | None:
        return (await self.projects(principal, [project_id])).get(project_id)

    async def _fetch_projects(
        self, principal: Principal, project_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Project]:
        responses = await call_for_ids(
            self.stub.GetProjects,
            project_ids,
            lambda batch: work_pb2.GetProjectsRequest(project_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        found = (project_of(p) for response in responses for p in response.projects)
        return {p.id: p for p in found}

    async def tasks(
        self, principal: Principal, task_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Task]:
        """The tasks among `task_ids` the caller may see (of projects it sees); the others are
        absent."""
        return await self._tasks.get(
            principal, task_ids, lambda ids: self._fetch_tasks(principal, ids)
        )

    async def _fetch_tasks(
        self, principal: Principal, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Task]:
        responses = await call_for_ids(
            self.stub.GetTasks,
            task_ids,
            lambda batch: work_pb2.GetTasksRequest(task_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        found = (task_of(t) for response in responses for t in response.tasks)
        return {t.id: t for t in found}

    async def create_task(
        self,
        principal: Principal,
        *,
        project_id: uuid.UUID,
        title: str,
        description: str | None = None,
        assignee_id: uuid.UUID | None = None,
        due_date: date | None = None,
    ) -> Task:
        """A task in the project's first column, made as the caller (work.task.created
        published). Raises NotFound for a project the caller cannot see, PermissionDenied
        without `tasks.write`, InvalidInput naming what work refused."""
        message = await call(
            self.stub.CreateTask,
            work_pb2.CreateTaskRequest(
                project_id=str(project_id),
                title=title,
                description=description or "",
                assignee_id=str(assignee_id) if assignee_id else "",
                due_date=due_date.isoformat() if due_date else "",
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return task_of(message)

    async def membership(
        self, principal: Principal, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> Membership:
        """Whether `user_id` is a member of the project and whether it takes time. Raises
        NotFound for a project that is not in the caller's agency."""
        response = await call(
            self.stub.CheckProjectMembership,
            work_pb2.CheckProjectMembershipRequest(
                project_id=str(project_id), user_id=str(user_id)
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return Membership(response.is_member, response.accepts_time, response.status)

    async def project_template(
        self, principal: Principal, template_id: uuid.UUID
    ) -> ProjectTemplate | None:
        """A project template of the caller's agency, or None (another agency's is none)."""
        try:
            message = await call(
                self.stub.GetProjectTemplate,
                work_pb2.GetProjectTemplateRequest(template_id=str(template_id)),
                principal=principal,
                timeout=self.timeout,
            )
        except NotFound:
            return None
        return ProjectTemplate(uuid.UUID(message.id), message.name, message.is_default)
