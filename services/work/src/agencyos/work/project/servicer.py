"""gRPC project methods: other services (portal, time, billing) read the caller's agency's
projects and ask whether a user may log time on one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import grpc

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.permissions import Role
from agencyos.common.rpc import (
    iso_date,
    parse_uuid,
    rfc3339,
    rpc_principal,
    rpc_session,
)
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.milestone.repository import milestone_repository
from agencyos.work.models import Milestone
from agencyos.work.project.access import is_project_member, sees_all_projects
from agencyos.work.project.repository import ProjectView, project_repository

MAX_IDS = 500
# A project in these statuses takes new time entries.
OPEN_FOR_TIME = frozenset({"planning", "active"})


def milestone_message(milestone: Milestone) -> work_pb2.ProjectMilestone:
    """A milestone as a project's client may see it (never its amount)."""
    return work_pb2.ProjectMilestone(
        id=str(milestone.id),
        name=milestone.name,
        due_date=iso_date(milestone.due_date),
        status=milestone.status,
        completed_at=rfc3339(milestone.completed_at),
    )


def project_message(
    view: ProjectView,
    milestones: Sequence[Milestone] | None = None,
    *,
    with_list: bool = False,
) -> work_pb2.Project:
    """The project; with `milestones` (the project's, by due date), its next open one, and
    with `with_list` all of them."""
    message = _project_fields(view)
    if milestones is not None:
        upcoming = next((m for m in milestones if m.status == "open"), None)
        if upcoming is not None:
            message.next_milestone.CopyFrom(milestone_message(upcoming))
        if with_list:
            message.milestones.extend(milestone_message(m) for m in milestones)
    return message


def _project_fields(view: ProjectView) -> work_pb2.Project:
    project = view.project
    return work_pb2.Project(
        id=str(project.id),
        name=project.name,
        client_id=str(project.client_id or ""),
        deal_id=str(project.deal_id or ""),
        status=project.status,
        billing_type=project.billing_type,
        hourly_rate_cents=project.hourly_rate_cents or 0,
        currency=project.currency,
        budget_cents=project.budget_cents or 0,
        start_date=iso_date(project.start_date),
        deadline=iso_date(project.deadline),
        progress=view.progress,
        member_ids=[str(u) for u in view.member_ids],
    )


def _client_of(principal: Principal) -> uuid.UUID | None:
    """The client a client-role caller is bound to (None for everyone else)."""
    if principal.role != Role.CLIENT:
        return None
    if principal.client_id is None:
        raise PermissionDenied("this client user is bound to no client")
    return principal.client_id


class ProjectRpc(work_pb2_grpc.WorkServiceServicer):
    """Mixed into the service's one WorkServicer."""

    async def GetProjects(
        self, request: work_pb2.GetProjectsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.GetProjectsResponse:
        """What the caller may see: everything with `projects.read_all`, the projects they are
        a member of with `projects.read`, a client user its own client's projects."""
        principal = rpc_principal()
        if len(request.project_ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} project ids per call")
        ids = list(dict.fromkeys(parse_uuid(raw, "project_ids") for raw in request.project_ids))
        client_id = _client_of(principal)
        if client_id is None:
            principal.require("projects.read")
        if not ids:
            return work_pb2.GetProjectsResponse()
        visible_to = None
        if client_id is None and not sees_all_projects(principal):
            visible_to = principal.user_id
        session = rpc_session()
        projects = await project_repository.by_ids(
            session, ids, visible_to=visible_to, client_id=client_id
        )
        views = await project_repository.views(session, projects)
        order = {project_id: i for i, project_id in enumerate(ids)}
        views.sort(key=lambda v: order[v.project.id])
        if not request.include_milestones:
            return work_pb2.GetProjectsResponse(projects=[project_message(v) for v in views])
        milestones = await milestone_repository.of_projects(session, [v.project.id for v in views])
        return work_pb2.GetProjectsResponse(
            projects=[project_message(v, milestones[v.project.id], with_list=True) for v in views]
        )

    async def ListClientProjects(
        self, request: work_pb2.ListClientProjectsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListClientProjectsResponse:
        """A client user may ask for its own client only; anyone else needs
        `projects.read_all`."""
        principal = rpc_principal()
        client_id = parse_uuid(request.client_id, "client_id")
        own = _client_of(principal)
        if own is not None:
            if own != client_id:
                raise PermissionDenied("a client user sees only its own client's projects")
        else:
            principal.require("projects.read_all")
        session = rpc_session()
        projects = await project_repository.of_client(session, client_id)
        views = await project_repository.views(session, projects)
        upcoming = await milestone_repository.of_projects(
            session, [p.id for p in projects], open_only=True
        )
        return work_pb2.ListClientProjectsResponse(
            projects=[project_message(v, upcoming[v.project.id]) for v in views]
        )

    async def CheckProjectMembership(
        self, request: work_pb2.CheckProjectMembershipRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.CheckProjectMembershipResponse:
        """Whether `user_id` is a member of the project, and whether the project takes time
        (planning or active). Callers ask about themselves; asking about someone else needs
        `projects.read_all`. An unknown project (or another agency's) is NOT_FOUND."""
        principal = rpc_principal()
        principal.require("projects.read")
        project_id = parse_uuid(request.project_id, "project_id")
        user_id = parse_uuid(request.user_id, "user_id")
        if user_id != principal.user_id and not sees_all_projects(principal):
            raise PermissionDenied("asking about another user needs 'projects.read_all'")
        session = rpc_session()
        project = await project_repository.get(session, project_id)
        if project is None:
            raise NotFound("no such project")
        is_member = await is_project_member(session, project.id, user_id)
        return work_pb2.CheckProjectMembershipResponse(
            is_member=is_member,
            accepts_time=project.status in OPEN_FOR_TIME,
            status=project.status,
        )
