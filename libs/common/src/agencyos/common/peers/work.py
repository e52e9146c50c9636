"""The typed client of work's gRPC contract (`agencyos.work.v1.WorkService`): what other
services ask about projects, tasks and templates, and what the client portal asks for a client
user (its client's projects, client-visible tasks and comments, deliverables and decisions on
them, feedback with attachments, the files shown to the client and the client's uploads)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date
from functools import cached_property
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.common.peers._base import ByIdMemo
from agencyos.common.peers.work_values import (
    ClientProjectView,
    Comment,
    Deliverable,
    File,
    Membership,
    Milestone,
    Project,
    ProjectTemplate,
    SignedLink,
    Task,
    Upload,
    comment_of,
    deliverable_of,
    expiry_of,
    file_of,
    milestone_of,
    project_of,
    task_of,
)
from agencyos.common.rpc import call, call_for_ids, channel
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc

__all__ = [
    "ClientProjectView",
    "Comment",
    "Deliverable",
    "File",
    "Membership",
    "Milestone",
    "Project",
    "ProjectTemplate",
    "SignedLink",
    "Task",
    "Upload",
    "WorkClient",
    "comment_of",
    "deliverable_of",
    "file_of",
    "milestone_of",
    "project_of",
    "task_of",
]


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

    # The client portal's methods: each answers what a client user of the project's client (or
    # staff who see the project) may see; work answers NotFound for anything else.

    async def project_with_milestones(
        self, principal: Principal, project_id: uuid.UUID
    ) -> Project | None:
        """The project with its milestones and next milestone, if the caller may see it (one
        call, not memoized: the plain `project` answers without milestones)."""
        response = await call(
            self.stub.GetProjects,
            work_pb2.GetProjectsRequest(project_ids=[str(project_id)], include_milestones=True),
            principal=principal,
            timeout=self.timeout,
        )
        found = [project_of(p) for p in response.projects if p.id == str(project_id)]
        return found[0] if found else None

    async def client_projects(self, principal: Principal, client_id: uuid.UUID) -> list[Project]:
        """The client's projects, with progress and the next open milestone. A client user
        may ask for its own client only (else PermissionDenied)."""
        response = await call(
            self.stub.ListClientProjects,
            work_pb2.ListClientProjectsRequest(client_id=str(client_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return [project_of(p) for p in response.projects]

    async def client_visible_tasks(self, principal: Principal, project_id: uuid.UUID) -> list[Task]:
        """The project's tasks visible to its client, in board order."""
        response = await call(
            self.stub.ListClientVisibleTasks,
            work_pb2.ListClientVisibleTasksRequest(project_id=str(project_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return [task_of(t) for t in response.tasks]

    async def client_deliverables(
        self, principal: Principal, project_id: uuid.UUID
    ) -> list[Deliverable]:
        """The project's deliverables but drafts, oldest first."""
        response = await call(
            self.stub.ListClientDeliverables,
            work_pb2.ListClientDeliverablesRequest(project_id=str(project_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return [deliverable_of(d) for d in response.deliverables]

    async def deliverables_awaiting_client(self, principal: Principal) -> list[Deliverable]:
        """A client user's submitted deliverables across all its client's projects (what
        awaits its decision), oldest submission first; one call. Client users only."""
        response = await call(
            self.stub.ListClientDeliverables,
            work_pb2.ListClientDeliverablesRequest(status="submitted"),
            principal=principal,
            timeout=self.timeout,
        )
        return [deliverable_of(d) for d in response.deliverables]

    async def approve_deliverable(
        self, principal: Principal, deliverable_id: uuid.UUID, comment: str | None = None
    ) -> Deliverable:
        """A submitted deliverable approved (work publishes work.deliverable.approved);
        PreconditionFailed from any other status."""
        message = await call(
            self.stub.ApproveDeliverable,
            work_pb2.DeliverableDecisionRequest(
                deliverable_id=str(deliverable_id), comment=comment or ""
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return deliverable_of(message)

    async def request_deliverable_changes(
        self, principal: Principal, deliverable_id: uuid.UUID, comment: str
    ) -> Deliverable:
        """A submitted deliverable sent back with the client's comment (work publishes
        work.deliverable.changes_requested); PreconditionFailed from any other status."""
        message = await call(
            self.stub.RequestDeliverableChanges,
            work_pb2.DeliverableDecisionRequest(
                deliverable_id=str(deliverable_id), comment=comment
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return deliverable_of(message)

    async def create_task_from_feedback(
        self,
        principal: Principal,
        project_id: uuid.UUID,
        *,
        title: str,
        description: str,
        attachment_ids: Sequence[uuid.UUID] = (),
    ) -> Task:
        """A client-visible task in the project's first column from the client's feedback
        (work publishes work.feedback.received), with the caller's own completed uploads in
        that project attached (InvalidInput naming `attachment_ids` for any other)."""
        message = await call(
            self.stub.CreateTaskFromFeedback,
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=str(project_id),
                title=title,
                description=description,
                attachment_ids=[str(i) for i in attachment_ids],
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return task_of(message)

    async def client_task_comments(self, principal: Principal, task_id: uuid.UUID) -> list[Comment]:
        """The client-visible comments of a client-visible task, oldest first."""
        response = await call(
            self.stub.ListClientTaskComments,
            work_pb2.ListClientTaskCommentsRequest(task_id=str(task_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return [comment_of(c) for c in response.comments]

    async def add_client_comment(
        self, principal: Principal, task_id: uuid.UUID, body: str
    ) -> Comment:
        """A client-visible comment by the caller on a client-visible task (work publishes
        work.comment.created)."""
        message = await call(
            self.stub.AddClientComment,
            work_pb2.AddClientCommentRequest(task_id=str(task_id), body=body),
            principal=principal,
            timeout=self.timeout,
        )
        return comment_of(message)

    async def client_project_view(
        self, principal: Principal, project_id: uuid.UUID
    ) -> ClientProjectView | None:
        """The project page of a client user in one call (None when the project is not one of
        its client's): the project with its milestones, its client-visible tasks, its
        deliverables but drafts and the files its client sees."""
        try:
            view = await call(
                self.stub.GetClientProjectView,
                work_pb2.GetClientProjectViewRequest(project_id=str(project_id)),
                principal=principal,
                timeout=self.timeout,
            )
        except NotFound:
            return None
        return ClientProjectView(
            project=project_of(view.project),
            tasks=[task_of(t) for t in view.tasks],
            deliverables=[deliverable_of(d) for d in view.deliverables],
            files=[file_of(f) for f in view.files],
        )

    async def client_files(self, principal: Principal, project_id: uuid.UUID) -> list[File]:
        """The uploaded files of the project its client sees, newest first."""
        response = await call(
            self.stub.ListClientFiles,
            work_pb2.ListClientFilesRequest(project_id=str(project_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return [file_of(f) for f in response.files]

    async def client_file_download(self, principal: Principal, file_id: uuid.UUID) -> SignedLink:
        """A download link of a few minutes for a file the client sees (else NotFound)."""
        message = await call(
            self.stub.GetClientFileDownload,
            work_pb2.GetClientFileDownloadRequest(file_id=str(file_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return SignedLink(url=message.url, expires_at=expiry_of(message.expires_at))

    async def request_client_upload(
        self,
        principal: Principal,
        project_id: uuid.UUID,
        *,
        name: str,
        content_type: str,
        size_bytes: int,
    ) -> Upload:
        """A client user's pending upload into its client's project, with its pre-signed POST
        (InvalidInput for a type not allowed or a size over the limit)."""
        message = await call(
            self.stub.RequestClientUpload,
            work_pb2.RequestClientUploadRequest(
                project_id=str(project_id),
                name=name,
                content_type=content_type,
                size_bytes=size_bytes,
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return Upload(
            file=file_of(message.file),
            url=message.url,
            fields=dict(message.fields),
            expires_at=expiry_of(message.expires_at),
        )

    async def complete_client_upload(self, principal: Principal, file_id: uuid.UUID) -> File:
        """The caller's own upload confirmed (PreconditionFailed while nothing is stored)."""
        message = await call(
            self.stub.CompleteClientUpload,
            work_pb2.CompleteClientUploadRequest(file_id=str(file_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return file_of(message)
