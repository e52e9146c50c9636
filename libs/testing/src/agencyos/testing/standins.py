"""Typed stand-ins for peer services' gRPC contracts, for the in-process tier.

Each subclasses the servicer generated from the peer's `.proto` (so its methods, requests and
replies are the contract's own types) and answers from what the test declared, per agency:
the service under test calls it over real gRPC, through its own peer code, with the caller's
token, exactly as it calls the real peer. Methods a stand-in does not implement answer
UNIMPLEMENTED, so a test that reaches one fails loudly instead of passing on a default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc

from agencyos.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from agencyos.common.permissions import Role
from agencyos.common.rpc import rpc_principal, service_authenticated
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.keys import TestKeys

# What identity's stand-in answers a delegated token's lifetime to be (identity's default).
DELEGATED_TOKEN_TTL_SECONDS = 300


def _tenant() -> uuid.UUID:
    return rpc_principal().tenant_id


@dataclass
class IdentityStandIn(identity_pb2_grpc.IdentityServiceServicer):
    """identity's members and agencies, as the test declared them."""

    members: dict[tuple[uuid.UUID, uuid.UUID], identity_pb2.Member] = field(default_factory=dict)
    agencies: dict[uuid.UUID, identity_pb2.Agency] = field(default_factory=dict)
    # Signs delegated tokens (the in-process tier sets it to its test keys).
    keys: TestKeys | None = None
    # Every delegated token issued: (agency, user, purpose), in order.
    delegated: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    # Client invitations made (CreateClientInvitation), in order.
    client_invitations: list[identity_pb2.ClientInvitation] = field(default_factory=list)
    # Each invitation's agency, by invitation id.
    _tenants: dict[str, uuid.UUID] = field(default_factory=dict)

    def add_member(
        self,
        agency_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        role: str,
        status: str = "active",
        name: str = "",
        client_id: uuid.UUID | None = None,
    ) -> None:
        self.members[(agency_id, user_id)] = identity_pb2.Member(
            user_id=str(user_id),
            agency_id=str(agency_id),
            email=f"{user_id.hex[:10]}@example.com",
            name=name or f"Person {user_id.hex[:6]}",
            role=role,
            status=status,
            client_id=str(client_id) if client_id else "",
        )

    def set_status(self, agency_id: uuid.UUID, user_id: uuid.UUID, status: str) -> None:
        self.members[(agency_id, user_id)].status = status

    def add_agency(
        self,
        agency_id: uuid.UUID,
        *,
        timezone: str = "UTC",
        currency: str = "USD",
        name: str = "",
        invoice_prefix: str = "INV-",
        default_tax_rate_bps: int = 0,
        brand_color: str = "",
        logo_url: str = "",
    ) -> None:
        """An agency as identity answers it (identity's defaults: prefix "INV-", no tax)."""
        self.agencies[agency_id] = identity_pb2.Agency(
            id=str(agency_id),
            slug=f"agency-{agency_id.hex[:8]}",
            name=name or f"Agency {agency_id.hex[:6]}",
            timezone=timezone,
            currency=currency,
            invoice_prefix=invoice_prefix,
            default_tax_rate_bps=default_tax_rate_bps,
            brand_color=brand_color,
            logo_url=logo_url,
        )

    def update_agency(
        self,
        agency_id: uuid.UUID,
        *,
        timezone: str | None = None,
        currency: str | None = None,
        name: str | None = None,
        invoice_prefix: str | None = None,
        default_tax_rate_bps: int | None = None,
        brand_color: str | None = None,
        logo_url: str | None = None,
    ) -> None:
        """Change what identity answers about the agency (as `PATCH /v1/agency` would)."""
        agency = self.agencies[agency_id]
        changes = {
            "timezone": timezone,
            "currency": currency,
            "name": name,
            "invoice_prefix": invoice_prefix,
            "default_tax_rate_bps": default_tax_rate_bps,
            "brand_color": brand_color,
            "logo_url": logo_url,
        }
        for key, value in changes.items():
            if value is not None:
                setattr(agency, key, value)

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        member = self.members.get((_tenant(), _uuid(request.user_id)))
        if member is None:
            raise NotFound("member not found")
        return member

    async def GetMembers(
        self, request: identity_pb2.GetMembersRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetMembersResponse:
        tenant = _tenant()
        found = [self.members.get((tenant, _uuid(u))) for u in request.user_ids]
        return identity_pb2.GetMembersResponse(members=[m for m in found if m is not None])

    async def CreateClientInvitation(
        self,
        request: identity_pb2.CreateClientInvitationRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.ClientInvitation:
        """identity's rules as far as the stand-in knows them: `members.invite` and a verified
        email (from the token), ALREADY_EXISTS for a declared member's address or an address
        invited before (in `client_invitations`). Every client id is taken as the agency's."""
        principal = rpc_principal()
        principal.require("members.invite")
        principal.require_verified_email("invite people")
        tenant = _tenant()
        email = request.email.strip().lower()
        members = (m for (agency, _), m in self.members.items() if agency == tenant)
        invited = (i for i in self.client_invitations if self._tenants[i.id] == tenant)
        if any(m.email == email for m in members) or any(i.email == email for i in invited):
            raise Conflict("this person is already a member of the agency or invited to it")
        now = time.time()
        invitation = identity_pb2.ClientInvitation(
            id=str(uuid.uuid4()),
            email=email,
            role="client",
            client_id=request.client_id,
            status="pending",
            invited_by=str(principal.user_id),
            created_at=_rfc3339(now),
            expires_at=_rfc3339(now + 7 * 24 * 3600),
        )
        self._tenants[invitation.id] = tenant
        self.client_invitations.append(invitation)
        return invitation

    async def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Agency:
        agency = self.agencies.get(_tenant())
        if agency is None:
            raise NotFound("agency not found")
        return agency

    @service_authenticated
    async def IssueDelegatedToken(
        self, request: identity_pb2.IssueDelegatedTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DelegatedToken:
        """A token for a declared active member, signed with the test keys as identity signs
        one (the role's permissions, `act` and `purpose`); the service credential is checked
        by the server as identity's is."""
        assert self.keys is not None, "the identity stand-in has no keys to sign with"
        tenant_id, user_id = _uuid(request.tenant_id), _uuid(request.user_id)
        member = self.members.get((tenant_id, user_id))
        if member is None or member.status != "active":
            raise PreconditionFailed("the user is not an active member of this agency")
        if not request.purpose.strip():
            raise InvalidInput("purpose must be 1 to 200 printable characters")
        claims: dict[str, Any] = {
            "sub": member.user_id,
            "tid": member.agency_id,
            "role": member.role,
            "act": {"sub": "agencyos-notification"},
            "purpose": request.purpose,
        }
        if member.client_id:
            claims["cid"] = member.client_id
        now = int(time.time())
        token = self.keys.mint(iat=now, exp=now + DELEGATED_TOKEN_TTL_SECONDS, **claims)
        self.delegated.append((tenant_id, user_id, request.purpose))
        return identity_pb2.DelegatedToken(
            access_token=token, expires_in=DELEGATED_TOKEN_TTL_SECONDS
        )


@dataclass
class WorkStandIn(work_pb2_grpc.WorkServiceServicer):
    """work's projects, tasks and project templates, as the test declared them. Who sees what
    is work's rule: `projects.read_all` every project of the agency, `projects.read` the
    projects one is a member of, a client user its own client's projects."""

    templates: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.ProjectTemplate] = field(
        default_factory=dict
    )
    projects: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.Project] = field(default_factory=dict)
    tasks: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.Task] = field(default_factory=dict)
    # CreateTask calls answered: (the caller's user id, the request), in order.
    created_tasks: list[tuple[uuid.UUID, work_pb2.CreateTaskRequest]] = field(default_factory=list)
    deliverables: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.Deliverable] = field(
        default_factory=dict
    )
    # Comments by (agency, task id), oldest first, internal ones included (never answered).
    comments: dict[tuple[uuid.UUID, uuid.UUID], list[work_pb2.Comment]] = field(
        default_factory=dict
    )
    # Decisions on deliverables answered: (the caller's user id, the method's name, the request).
    decisions: list[tuple[uuid.UUID, str, work_pb2.DeliverableDecisionRequest]] = field(
        default_factory=list
    )
    # CreateTaskFromFeedback calls answered: (the caller's user id, the request), in order.
    feedback: list[tuple[uuid.UUID, work_pb2.CreateTaskFromFeedbackRequest]] = field(
        default_factory=list
    )

    def add_template(self, agency_id: uuid.UUID, name: str = "Template") -> uuid.UUID:
        template_id = uuid.uuid4()
        self.templates[(agency_id, template_id)] = work_pb2.ProjectTemplate(
            id=str(template_id), name=name
        )
        return template_id

    def add_project(
        self,
        agency_id: uuid.UUID,
        *members: uuid.UUID,
        name: str = "",
        client_id: uuid.UUID | None = None,
        status: str = "active",
        billing_type: str = "hourly",
        hourly_rate_cents: int | None = None,
        currency: str = "USD",
    ) -> uuid.UUID:
        """A project of `agency_id` with `members` (user ids)."""
        project_id = uuid.uuid4()
        self.projects[(agency_id, project_id)] = work_pb2.Project(
            id=str(project_id),
            name=name or f"Project {project_id.hex[:8]}",
            client_id=str(client_id) if client_id else "",
            status=status,
            billing_type=billing_type,
            hourly_rate_cents=hourly_rate_cents or 0,
            currency=currency,
            member_ids=[str(m) for m in members],
        )
        return project_id

    def set_project_status(self, agency_id: uuid.UUID, project_id: uuid.UUID, status: str) -> None:
        self.projects[(agency_id, project_id)].status = status

    def add_task(
        self,
        agency_id: uuid.UUID,
        project_id: uuid.UUID,
        *,
        title: str = "",
        visible_to_client: bool = False,
    ) -> uuid.UUID:
        task_id = uuid.uuid4()
        self.tasks[(agency_id, task_id)] = work_pb2.Task(
            id=str(task_id),
            project_id=str(project_id),
            title=title or f"Task {task_id.hex[:6]}",
            status="todo",
            priority="medium",
            visible_to_client=visible_to_client,
        )
        return task_id

    def add_deliverable(
        self,
        agency_id: uuid.UUID,
        project_id: uuid.UUID,
        *,
        title: str = "",
        status: str = "submitted",
    ) -> uuid.UUID:
        deliverable_id = uuid.uuid4()
        self.deliverables[(agency_id, deliverable_id)] = work_pb2.Deliverable(
            id=str(deliverable_id),
            project_id=str(project_id),
            title=title or f"Deliverable {deliverable_id.hex[:6]}",
            status=status,
            submitted_at=_rfc3339(time.time()) if status != "draft" else "",
        )
        return deliverable_id

    def add_comment(
        self,
        agency_id: uuid.UUID,
        task_id: uuid.UUID,
        author_id: uuid.UUID,
        body: str,
        *,
        visibility: str = "internal",
    ) -> uuid.UUID:
        comment_id = uuid.uuid4()
        now = _rfc3339(time.time())
        self.comments.setdefault((agency_id, task_id), []).append(
            work_pb2.Comment(
                id=str(comment_id),
                task_id=str(task_id),
                author_id=str(author_id),
                body=body,
                visibility=visibility,
                created_at=now,
                updated_at=now,
            )
        )
        return comment_id

    def _client_project(self, raw_project_id: str, *, write: bool) -> work_pb2.Project:
        """The project if the caller may reach it as work's portal methods rule: a client
        user its own client's projects; anyone else the projects they see (and, to `write`,
        `tasks.write`); NotFound otherwise."""
        principal = rpc_principal()
        if principal.role == Role.CLIENT and principal.client_id is None:
            raise PermissionDenied("this client user is bound to no client")
        if principal.role != Role.CLIENT:
            principal.require("tasks.write" if write else "projects.read")
        project = self.projects.get((_tenant(), _uuid(raw_project_id)))
        if project is None or not self._visible(project):
            raise NotFound("no such project")
        return project

    def _client_task(self, raw_task_id: str, *, write: bool) -> work_pb2.Task:
        task = self.tasks.get((_tenant(), _uuid(raw_task_id)))
        if task is None or not task.visible_to_client:
            raise NotFound("no such task")
        try:
            self._client_project(task.project_id, write=write)
        except NotFound as exc:
            raise NotFound("no such task") from exc
        return task

    def _client_deliverable(self, raw_deliverable_id: str) -> work_pb2.Deliverable:
        deliverable = self.deliverables.get((_tenant(), _uuid(raw_deliverable_id)))
        if deliverable is None or deliverable.status == "draft":
            raise NotFound("no such deliverable")
        try:
            self._client_project(deliverable.project_id, write=False)
        except NotFound as exc:
            raise NotFound("no such deliverable") from exc
        return deliverable

    def _visible(self, project: work_pb2.Project) -> bool:
        principal = rpc_principal()
        if principal.role == Role.CLIENT:
            return principal.client_id is not None and project.client_id == str(principal.client_id)
        if principal.can("projects.read_all"):
            return True
        return str(principal.user_id) in project.member_ids

    async def GetProjects(
        self, request: work_pb2.GetProjectsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.GetProjectsResponse:
        tenant = _tenant()
        if rpc_principal().role != Role.CLIENT:
            rpc_principal().require("projects.read")
        found = [self.projects.get((tenant, _uuid(p))) for p in dict.fromkeys(request.project_ids)]
        return work_pb2.GetProjectsResponse(
            projects=[p for p in found if p is not None and self._visible(p)]
        )

    async def GetTasks(
        self, request: work_pb2.GetTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        tenant = _tenant()
        is_client = rpc_principal().role == Role.CLIENT
        if not is_client:
            rpc_principal().require("projects.read")
        tasks = []
        for raw in dict.fromkeys(request.task_ids):
            task = self.tasks.get((tenant, _uuid(raw)))
            if task is None or (is_client and not task.visible_to_client):
                continue
            project = self.projects.get((tenant, _uuid(task.project_id)))
            if project is not None and self._visible(project):
                tasks.append(task)
        return work_pb2.ListTasksResponse(tasks=tasks)

    async def CheckProjectMembership(
        self, request: work_pb2.CheckProjectMembershipRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.CheckProjectMembershipResponse:
        principal = rpc_principal()
        principal.require("projects.read")
        user_id = _uuid(request.user_id)
        if user_id != principal.user_id and not principal.can("projects.read_all"):
            raise PermissionDenied("asking about another user needs 'projects.read_all'")
        project = self.projects.get((_tenant(), _uuid(request.project_id)))
        if project is None:
            raise NotFound("no such project")
        return work_pb2.CheckProjectMembershipResponse(
            is_member=str(user_id) in project.member_ids,
            accepts_time=project.status in ("planning", "active"),
            status=project.status,
        )

    async def CreateTask(
        self, request: work_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Task:
        """A task on a project the caller sees, with `tasks.write` (work's rule); recorded in
        `tasks` (and `created_tasks`, with who made it)."""
        principal = rpc_principal()
        principal.require("tasks.write")
        project = self.projects.get((_tenant(), _uuid(request.project_id)))
        if project is None or not self._visible(project):
            raise NotFound("no such project")
        if not request.title.strip():
            raise InvalidInput("invalid fields: title")
        task_id = uuid.uuid4()
        task = work_pb2.Task(
            id=str(task_id),
            project_id=project.id,
            title=request.title.strip(),
            description=request.description,
            status="todo",
            priority="medium",
            due_date=request.due_date,
        )
        self.tasks[(_tenant(), task_id)] = task
        self.created_tasks.append((principal.user_id, request))
        return task

    async def ListClientProjects(
        self, request: work_pb2.ListClientProjectsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListClientProjectsResponse:
        """A client user may ask for its own client only; anyone else needs
        `projects.read_all` (work's rule)."""
        principal = rpc_principal()
        client_id = request.client_id
        if principal.role == Role.CLIENT:
            if principal.client_id is None or str(principal.client_id) != client_id:
                raise PermissionDenied("a client user sees only its own client's projects")
        else:
            principal.require("projects.read_all")
        tenant = _tenant()
        return work_pb2.ListClientProjectsResponse(
            projects=[
                p
                for (agency, _), p in self.projects.items()
                if agency == tenant and p.client_id == client_id
            ]
        )

    async def ListClientVisibleTasks(
        self, request: work_pb2.ListClientVisibleTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        project = self._client_project(request.project_id, write=False)
        tenant = _tenant()
        return work_pb2.ListTasksResponse(
            tasks=[
                t
                for (agency, _), t in self.tasks.items()
                if agency == tenant and t.project_id == project.id and t.visible_to_client
            ]
        )

    async def ListClientDeliverables(
        self, request: work_pb2.ListClientDeliverablesRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListDeliverablesResponse:
        project = self._client_project(request.project_id, write=False)
        tenant = _tenant()
        return work_pb2.ListDeliverablesResponse(
            deliverables=[
                d
                for (agency, _), d in self.deliverables.items()
                if agency == tenant and d.project_id == project.id and d.status != "draft"
            ]
        )

    def _decide(
        self, method: str, request: work_pb2.DeliverableDecisionRequest, status: str
    ) -> work_pb2.Deliverable:
        deliverable = self._client_deliverable(request.deliverable_id)
        if deliverable.status != "submitted":
            raise PreconditionFailed(f"the deliverable is {deliverable.status}, not submitted")
        deliverable.status = status
        deliverable.decided_at = _rfc3339(time.time())
        self.decisions.append((rpc_principal().user_id, method, request))
        return deliverable

    async def ApproveDeliverable(
        self, request: work_pb2.DeliverableDecisionRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Deliverable:
        return self._decide("ApproveDeliverable", request, "approved")

    async def RequestDeliverableChanges(
        self, request: work_pb2.DeliverableDecisionRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Deliverable:
        if not request.comment.strip():
            raise InvalidInput("comment is required: say what should change")
        return self._decide("RequestDeliverableChanges", request, "changes_requested")

    async def CreateTaskFromFeedback(
        self, request: work_pb2.CreateTaskFromFeedbackRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Task:
        if not request.title.strip():
            raise InvalidInput("title must be 1 to 300 characters")
        project = self._client_project(request.project_id, write=True)
        task_id = uuid.uuid4()
        task = work_pb2.Task(
            id=str(task_id),
            project_id=project.id,
            title=request.title.strip(),
            description=request.description,
            status="todo",
            priority="medium",
            visible_to_client=(
                request.visible_to_client if request.HasField("visible_to_client") else True
            ),
        )
        self.tasks[(_tenant(), task_id)] = task
        self.feedback.append((rpc_principal().user_id, request))
        return task

    async def ListClientTaskComments(
        self, request: work_pb2.ListClientTaskCommentsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListCommentsResponse:
        task = self._client_task(request.task_id, write=False)
        found = self.comments.get((_tenant(), _uuid(task.id)), [])
        return work_pb2.ListCommentsResponse(
            comments=[c for c in found if c.visibility == "client"]
        )

    async def AddClientComment(
        self, request: work_pb2.AddClientCommentRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Comment:
        if not request.body.strip() or len(request.body) > 20_000:
            raise InvalidInput("invalid fields: body")
        task = self._client_task(request.task_id, write=True)
        comment_id = self.add_comment(
            _tenant(),
            _uuid(task.id),
            rpc_principal().user_id,
            request.body.strip(),
            visibility="client",
        )
        return next(
            c for c in self.comments[(_tenant(), _uuid(task.id))] if c.id == str(comment_id)
        )

    async def GetProjectTemplate(
        self, request: work_pb2.GetProjectTemplateRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ProjectTemplate:
        template = self.templates.get((_tenant(), _uuid(request.template_id)))
        if template is None:
            raise NotFound("project template not found")
        return template


@dataclass
class CrmStandIn(crm_pb2_grpc.CrmServiceServicer):
    """CRM's clients, as the test declared them."""

    clients: dict[tuple[uuid.UUID, uuid.UUID], crm_pb2.Client] = field(default_factory=dict)
    # AddTimelineEntry calls answered: (the entry's id, the caller's user id, the request).
    timeline: list[tuple[uuid.UUID, uuid.UUID, crm_pb2.AddTimelineEntryRequest]] = field(
        default_factory=list
    )

    def add_client(self, agency_id: uuid.UUID, *, currency: str = "USD") -> uuid.UUID:
        client_id = uuid.uuid4()
        self.clients[(agency_id, client_id)] = crm_pb2.Client(
            id=str(client_id), company_name=f"Client {client_id.hex[:6]}", currency=currency
        )
        return client_id

    async def GetClients(
        self, request: crm_pb2.GetClientsRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.GetClientsResponse:
        tenant = _tenant()
        found = [self.clients.get((tenant, _uuid(c))) for c in request.client_ids]
        return crm_pb2.GetClientsResponse(clients=[c for c in found if c is not None])

    async def AddTimelineEntry(
        self, request: crm_pb2.AddTimelineEntryRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.TimelineEntryRef:
        """A note on a client of the caller's agency, with `clients.write` (CRM's rule);
        recorded in `timeline`."""
        principal = rpc_principal()
        principal.require("clients.write")
        if (_tenant(), _uuid(request.client_id)) not in self.clients:
            raise NotFound("no such client")
        if not request.title.strip():
            raise InvalidInput("invalid fields: title")
        entry_id = uuid.uuid4()
        self.timeline.append((entry_id, principal.user_id, request))
        return crm_pb2.TimelineEntryRef(id=str(entry_id))


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        # The real peers answer an id that is not a UUID as "no such thing".
        return uuid.UUID(int=0)


@dataclass
class StandIns:
    """One of each stand-in, served together by one in-process gRPC server."""

    identity: IdentityStandIn = field(default_factory=IdentityStandIn)
    work: WorkStandIn = field(default_factory=WorkStandIn)
    crm: CrmStandIn = field(default_factory=CrmStandIn)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(self.identity, server)
        work_pb2_grpc.add_WorkServiceServicer_to_server(self.work, server)
        crm_pb2_grpc.add_CrmServiceServicer_to_server(self.crm, server)
        return [
            identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
            work_pb2.DESCRIPTOR.services_by_name["WorkService"].full_name,
            crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name,
        ]
