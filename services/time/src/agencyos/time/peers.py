"""What time asks other services, over gRPC with the caller's own token (so every answer is
for the caller's agency only): work for projects and membership, identity for the agency's
timezone and its people."""

from __future__ import annotations

import time as clock
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import Request

from agencyos.common.auth import Principal
from agencyos.common.rpc import call, call_for_ids, channel
from agencyos.common.zones import zone_or_utc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc


@dataclass(frozen=True)
class ProjectInfo:
    id: uuid.UUID
    client_id: uuid.UUID | None
    status: str
    billing_type: str  # hourly | fixed | retainer
    hourly_rate_cents: int | None  # the project's own rate in work, None when unset
    currency: str
    member_ids: frozenset[uuid.UUID]

    @property
    def billable_by_default(self) -> bool:
        """New entries on hourly projects are billable unless said otherwise."""
        return self.billing_type == "hourly"


@dataclass(frozen=True)
class TaskInfo:
    id: uuid.UUID
    project_id: uuid.UUID
    title: str


@dataclass(frozen=True)
class Membership:
    is_member: bool
    accepts_time: bool  # the project is planning or active
    status: str


@dataclass(frozen=True)
class PersonInfo:
    user_id: uuid.UUID
    name: str
    role: str
    status: str


_timezones: dict[uuid.UUID, tuple[float, ZoneInfo]] = {}


class Peers:
    def __init__(
        self, work_target: str, identity_target: str, timeout: float, cache_seconds: float = 30.0
    ) -> None:
        self.work_target = work_target
        self.identity_target = identity_target
        self.timeout = timeout
        self.cache_seconds = cache_seconds

    @classmethod
    def of(cls, request: Request) -> Peers:
        settings = request.app.state.ctx.settings
        return cls.from_settings(settings)

    @classmethod
    def from_settings(cls, settings: object) -> Peers:
        return cls(
            settings.work_grpc_target,  # type: ignore[attr-defined]
            settings.identity_grpc_target,  # type: ignore[attr-defined]
            settings.grpc_timeout_seconds,  # type: ignore[attr-defined]
            getattr(settings, "agency_cache_seconds", 30.0),
        )

    async def projects(
        self, principal: Principal, project_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ProjectInfo]:
        """The projects among `project_ids` the caller may see (members: their own; managers:
        all). Missing ids are simply absent."""
        found: dict[uuid.UUID, ProjectInfo] = {}
        for p in await self._projects(principal, project_ids):
            info = ProjectInfo(
                id=uuid.UUID(p.id),
                client_id=uuid.UUID(p.client_id) if p.client_id else None,
                status=p.status,
                billing_type=p.billing_type,
                hourly_rate_cents=p.hourly_rate_cents or None,
                currency=p.currency,
                member_ids=frozenset(uuid.UUID(m) for m in p.member_ids),
            )
            found[info.id] = info
        return found

    async def _projects(
        self, principal: Principal, project_ids: Sequence[uuid.UUID]
    ) -> list[work_pb2.Project]:
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        responses = await call_for_ids(
            stub.GetProjects,
            project_ids,
            lambda batch: work_pb2.GetProjectsRequest(project_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        return [p for response in responses for p in response.projects]

    async def project(self, principal: Principal, project_id: uuid.UUID) -> ProjectInfo | None:
        return (await self.projects(principal, [project_id])).get(project_id)

    async def tasks(
        self, principal: Principal, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, TaskInfo]:
        """The tasks among `task_ids` the caller may see (members: tasks of their projects;
        managers: all), with their project and title. Missing ids are simply absent."""
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        responses = await call_for_ids(
            stub.GetTasks,
            task_ids,
            lambda batch: work_pb2.GetTasksRequest(task_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        found: dict[uuid.UUID, TaskInfo] = {}
        for response in responses:
            for t in response.tasks:
                info = TaskInfo(uuid.UUID(t.id), uuid.UUID(t.project_id), t.title)
                found[info.id] = info
        return found

    async def project_names(
        self, principal: Principal, project_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        """The names of the projects among `project_ids` the caller may see."""
        return {uuid.UUID(p.id): p.name for p in await self._projects(principal, project_ids)}

    async def membership(
        self, principal: Principal, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> Membership:
        """Whether `user_id` is a member of the project and whether it takes time. Raises
        NotFound for a project that is not in the caller's agency."""
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        response = await call(
            stub.CheckProjectMembership,
            work_pb2.CheckProjectMembershipRequest(
                project_id=str(project_id), user_id=str(user_id)
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return Membership(response.is_member, response.accepts_time, response.status)

    async def timezone(self, principal: Principal) -> ZoneInfo:
        """The agency's timezone (cached briefly); UTC when identity names an unknown one."""
        cached = _timezones.get(principal.tenant_id)
        now = clock.monotonic()
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        agency = await call(
            stub.GetAgency,
            identity_pb2.GetAgencyRequest(),
            principal=principal,
            timeout=self.timeout,
        )
        zone = zone_or_utc(agency.timezone)
        _timezones[principal.tenant_id] = (now, zone)
        return zone

    async def people(
        self, principal: Principal, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, PersonInfo]:
        """Identity's view of these people in the caller's agency (absent when unknown)."""
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        responses = await call_for_ids(
            stub.GetMembers,
            user_ids,
            lambda batch: identity_pb2.GetMembersRequest(user_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        return {
            uuid.UUID(m.user_id): PersonInfo(uuid.UUID(m.user_id), m.name, m.role, m.status)
            for response in responses
            for m in response.members
        }
