"""work's gRPC contract as a typed stand-in for the in-process tier (see
agencyos.testing.standins): projects, tasks, templates, and what the portal asks of work
(client projects, client-visible tasks, deliverables and their decisions, feedback, client
comments, files: signed into the real local S3 server)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import grpc

from agencyos.common.errors import (
    InvalidInput,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
)
from agencyos.common.permissions import Role
from agencyos.common.rpc import rpc_principal
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.standin_support import caller_tenant, peer_uuid, rfc3339
from agencyos.testing.work_standin_files import FileStandIn

# The deliverable statuses a client sees (work's rule: never drafts).
CLIENT_VISIBLE = ("submitted", "approved", "changes_requested")


@dataclass
class WorkStandIn(FileStandIn, work_pb2_grpc.WorkServiceServicer):
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
    # Milestones by (agency, project id), in the order added (answered by due date).
    milestones: dict[tuple[uuid.UUID, uuid.UUID], list[work_pb2.ProjectMilestone]] = field(
        default_factory=dict
    )
    # The names of the read methods called, in order (how many calls a page makes).
    calls: list[str] = field(default_factory=list)
    # Files by (agency, file id) with their object keys; the bytes are in the real local S3
    # server, in the bucket the in-process tier sets (`s3_bucket`), signed as work signs.
    files: dict[tuple[uuid.UUID, uuid.UUID], work_pb2.File] = field(default_factory=dict)
    file_keys: dict[tuple[uuid.UUID, uuid.UUID], str] = field(default_factory=dict)
    file_uploaders: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = field(default_factory=dict)
    s3_bucket: str = ""
    _bucket_made: bool = False

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
            submitted_at=rfc3339(time.time()) if status != "draft" else "",
        )
        return deliverable_id

    def add_milestone(
        self,
        agency_id: uuid.UUID,
        project_id: uuid.UUID,
        *,
        name: str = "",
        due_date: str = "",
        status: str = "open",
    ) -> uuid.UUID:
        """A milestone of the project (`due_date` an ISO date or empty; a completed one is
        completed now)."""
        milestone_id = uuid.uuid4()
        self.milestones.setdefault((agency_id, project_id), []).append(
            work_pb2.ProjectMilestone(
                id=str(milestone_id),
                name=name or f"Milestone {milestone_id.hex[:6]}",
                due_date=due_date,
                status=status,
                completed_at=rfc3339(time.time()) if status == "completed" else "",
            )
        )
        return milestone_id

    def _with_milestones(self, project: work_pb2.Project, *, with_list: bool) -> work_pb2.Project:
        """A copy of the project with its next open milestone (dated ones first, by date),
        and with `with_list` all of them, as work answers them."""
        answered = work_pb2.Project()
        answered.CopyFrom(project)
        found = self.milestones.get((caller_tenant(), peer_uuid(project.id)), [])
        ordered = sorted(found, key=lambda m: (m.due_date == "", m.due_date))
        upcoming = next((m for m in ordered if m.status == "open"), None)
        if upcoming is not None:
            answered.next_milestone.CopyFrom(upcoming)
        if with_list:
            answered.milestones.extend(ordered)
        return answered

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
        now = rfc3339(time.time())
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
        project = self.projects.get((caller_tenant(), peer_uuid(raw_project_id)))
        if project is None or not self._visible(project):
            raise NotFound("no such project")
        return project

    def _client_task(self, raw_task_id: str, *, write: bool) -> work_pb2.Task:
        task = self.tasks.get((caller_tenant(), peer_uuid(raw_task_id)))
        if task is None or not task.visible_to_client:
            raise NotFound("no such task")
        try:
            self._client_project(task.project_id, write=write)
        except NotFound as exc:
            raise NotFound("no such task") from exc
        return task

    def _client_deliverable(self, raw_deliverable_id: str) -> work_pb2.Deliverable:
        deliverable = self.deliverables.get((caller_tenant(), peer_uuid(raw_deliverable_id)))
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
        self.calls.append("GetProjects")
        tenant = caller_tenant()
        if rpc_principal().role != Role.CLIENT:
            rpc_principal().require("projects.read")
        found = [
            self.projects.get((tenant, peer_uuid(p))) for p in dict.fromkeys(request.project_ids)
        ]
        visible = [p for p in found if p is not None and self._visible(p)]
        if request.include_milestones:
            visible = [self._with_milestones(p, with_list=True) for p in visible]
        return work_pb2.GetProjectsResponse(projects=visible)

    async def GetTasks(
        self, request: work_pb2.GetTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        tenant = caller_tenant()
        is_client = rpc_principal().role == Role.CLIENT
        if not is_client:
            rpc_principal().require("projects.read")
        tasks = []
        for raw in dict.fromkeys(request.task_ids):
            task = self.tasks.get((tenant, peer_uuid(raw)))
            if task is None or (is_client and not task.visible_to_client):
                continue
            project = self.projects.get((tenant, peer_uuid(task.project_id)))
            if project is not None and self._visible(project):
                tasks.append(task)
        return work_pb2.ListTasksResponse(tasks=tasks)

    async def CheckProjectMembership(
        self, request: work_pb2.CheckProjectMembershipRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.CheckProjectMembershipResponse:
        principal = rpc_principal()
        principal.require("projects.read")
        user_id = peer_uuid(request.user_id)
        if user_id != principal.user_id and not principal.can("projects.read_all"):
            raise PermissionDenied("asking about another user needs 'projects.read_all'")
        project = self.projects.get((caller_tenant(), peer_uuid(request.project_id)))
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
        project = self.projects.get((caller_tenant(), peer_uuid(request.project_id)))
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
        self.tasks[(caller_tenant(), task_id)] = task
        self.created_tasks.append((principal.user_id, request))
        return task

    async def ListClientProjects(
        self, request: work_pb2.ListClientProjectsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListClientProjectsResponse:
        """A client user may ask for its own client only; anyone else needs
        `projects.read_all` (work's rule)."""
        self.calls.append("ListClientProjects")
        principal = rpc_principal()
        client_id = request.client_id
        if principal.role == Role.CLIENT:
            if principal.client_id is None or str(principal.client_id) != client_id:
                raise PermissionDenied("a client user sees only its own client's projects")
        else:
            principal.require("projects.read_all")
        tenant = caller_tenant()
        return work_pb2.ListClientProjectsResponse(
            projects=[
                self._with_milestones(p, with_list=False)
                for (agency, _), p in self.projects.items()
                if agency == tenant and p.client_id == client_id
            ]
        )

    async def ListClientVisibleTasks(
        self, request: work_pb2.ListClientVisibleTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        self.calls.append("ListClientVisibleTasks")
        project = self._client_project(request.project_id, write=False)
        tenant = caller_tenant()
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
        """One project's deliverables but drafts; without a project, a client user's across
        its client's projects (staff must name one); of `status` when given (work's rules)."""
        self.calls.append("ListClientDeliverables")
        if request.status and request.status not in CLIENT_VISIBLE:
            raise InvalidInput(f"status must be one of {', '.join(CLIENT_VISIBLE)}")
        tenant = caller_tenant()
        if request.project_id:
            project_ids = {self._client_project(request.project_id, write=False).id}
        else:
            principal = rpc_principal()
            if principal.role != Role.CLIENT:
                raise InvalidInput("project_id is required")
            if principal.client_id is None:
                raise PermissionDenied("this client user is bound to no client")
            project_ids = {
                p.id
                for (agency, _), p in self.projects.items()
                if agency == tenant and p.client_id == str(principal.client_id)
            }
        return work_pb2.ListDeliverablesResponse(
            deliverables=[
                d
                for (agency, _), d in self.deliverables.items()
                if agency == tenant
                and d.project_id in project_ids
                and d.status in CLIENT_VISIBLE
                and (not request.status or d.status == request.status)
            ]
        )

    def _decide(
        self, method: str, request: work_pb2.DeliverableDecisionRequest, status: str
    ) -> work_pb2.Deliverable:
        deliverable = self._client_deliverable(request.deliverable_id)
        if deliverable.status != "submitted":
            raise PreconditionFailed(f"the deliverable is {deliverable.status}, not submitted")
        deliverable.status = status
        deliverable.decided_at = rfc3339(time.time())
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
        tenant, caller = caller_tenant(), rpc_principal().user_id
        attachments = [(tenant, peer_uuid(raw)) for raw in request.attachment_ids]
        for key in attachments:
            f = self.files.get(key)
            if (
                f is None
                or f.project_id != project.id
                or f.status != "uploaded"
                or f.task_id
                or self.file_uploaders.get(key) != caller
            ):
                raise InvalidInput("attachment_ids: not your own completed uploads here")
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
        self.tasks[(caller_tenant(), task_id)] = task
        for key in attachments:
            self.files[key].task_id = str(task_id)
        self.feedback.append((rpc_principal().user_id, request))
        return task

    async def ListClientTaskComments(
        self, request: work_pb2.ListClientTaskCommentsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListCommentsResponse:
        task = self._client_task(request.task_id, write=False)
        found = self.comments.get((caller_tenant(), peer_uuid(task.id)), [])
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
            caller_tenant(),
            peer_uuid(task.id),
            rpc_principal().user_id,
            request.body.strip(),
            visibility="client",
        )
        return next(
            c
            for c in self.comments[(caller_tenant(), peer_uuid(task.id))]
            if c.id == str(comment_id)
        )

    # --- files (work's rule: what the client sees; the client's own uploads) ---------------

    async def GetClientProjectView(
        self, request: work_pb2.GetClientProjectViewRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ClientProjectView:
        """work's composition of its own client reads, recorded as the one call it is."""
        if rpc_principal().role != Role.CLIENT:
            raise PermissionDenied("the project view is for client users")
        before = len(self.calls)
        found = await self.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[request.project_id], include_milestones=True),
            context,
        )
        if not found.projects:
            raise NotFound("no such project")
        tasks = await self.ListClientVisibleTasks(
            work_pb2.ListClientVisibleTasksRequest(project_id=request.project_id), context
        )
        deliverables = await self.ListClientDeliverables(
            work_pb2.ListClientDeliverablesRequest(project_id=request.project_id), context
        )
        files = await self.ListClientFiles(
            work_pb2.ListClientFilesRequest(project_id=request.project_id), context
        )
        del self.calls[before:]
        self.calls.append("GetClientProjectView")
        return work_pb2.ClientProjectView(
            project=found.projects[0],
            tasks=tasks.tasks,
            deliverables=deliverables.deliverables,
            files=files.files,
        )

    async def GetProjectTemplate(
        self, request: work_pb2.GetProjectTemplateRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ProjectTemplate:
        template = self.templates.get((caller_tenant(), peer_uuid(request.template_id)))
        if template is None:
            raise NotFound("project template not found")
        return template
