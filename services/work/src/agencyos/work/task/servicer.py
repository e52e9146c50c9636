"""gRPC task methods for the client portal: the tasks a client may see, and a task made from
a client's feedback; and CreateTask, what the REST route does for callers over gRPC (the
automation engine, acting for a rule's author).

A client-role caller (its token's `cid`) reaches only projects of its own client; any other
project answers NOT_FOUND, exactly like one that does not exist. Everyone else goes through
the usual project visibility (members see their projects, `projects.read_all` all).

Comments: ListClientTaskComments and AddClientComment reach a task only when it is visible to
the client (an internal task answers NOT_FOUND like an unknown one), and only its
client-visible comments: an internal comment is never answered here.

A task made from feedback publishes `work.feedback.received` (the caller is its author) with
the task's own events; a client user does not follow the task, a member passing the feedback
on does."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.events import FeedbackReceived
from agencyos.common.outbox import publish
from agencyos.common.permissions import Role
from agencyos.common.rpc import (
    iso_date,
    parse_uuid,
    rfc3339,
    rpc_principal,
    rpc_session,
    validated,
)
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.work.board.repository import column_repository
from agencyos.work.file.service import file_service
from agencyos.work.models import Comment, Project, Task
from agencyos.work.project.access import sees_all_projects, visible_project
from agencyos.work.project.repository import project_repository
from agencyos.work.task.comments import comment_service, excerpt
from agencyos.work.task.permissions import follows_tasks
from agencyos.work.task.placement import SERVICE
from agencyos.work.task.repository import TaskFilters, comment_repository, task_repository
from agencyos.work.task.schemas import CommentCreate, TaskCreate
from agencyos.work.task.service import NewTask, task_service

TITLE_MAX = 300
DESCRIPTION_MAX = 50_000
# GetTasks answers at most this many ids per call
MAX_TASK_IDS = 500
# ListClientTaskComments answers a task's latest this many client-visible comments
MAX_CLIENT_COMMENTS = 500


def task_message(task: Task) -> work_pb2.Task:
    return work_pb2.Task(
        id=str(task.id),
        project_id=str(task.project_id),
        title=task.title,
        description=task.description or "",
        status=task.status,
        priority=task.priority,
        due_date=iso_date(task.due_date),
        completed_at=rfc3339(task.completed_at),
        visible_to_client=task.visible_to_client,
    )


def comment_message(comment: Comment) -> work_pb2.Comment:
    return work_pb2.Comment(
        id=str(comment.id),
        task_id=str(comment.task_id),
        author_id=str(comment.author_id),
        body=comment.body,
        visibility=comment.visibility,
        created_at=rfc3339(comment.created_at),
        updated_at=rfc3339(comment.updated_at),
        edited=comment.updated_at != comment.created_at,
    )


async def _project_for(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, write: bool
) -> Project:
    """The project if the caller may reach it: a client user its own client's projects;
    anyone else a project they can see (and, to `write`, `tasks.write`)."""
    if principal.role == Role.CLIENT:
        if principal.client_id is None:
            raise PermissionDenied("this client user is bound to no client")
        project = await project_repository.get(session, project_id)
        if project is None or project.client_id != principal.client_id:
            raise NotFound("no such project")
        return project
    if write:
        principal.require("tasks.write")
    return await visible_project(session, principal, project_id)


async def _client_visible_task(
    session: AsyncSession, principal: Principal, task_id: uuid.UUID, *, write: bool
) -> Task:
    """The task if it is visible to the client and the caller may reach its project (see
    `_project_for`); NOT_FOUND otherwise, the same for an internal task as for none."""
    task = await task_repository.get(session, task_id)
    if task is None or not task.visible_to_client:
        raise NotFound("no such task")
    try:
        await _project_for(session, principal, task.project_id, write=write)
    except NotFound as exc:
        raise NotFound("no such task") from exc
    return task


class TaskRpc(work_pb2_grpc.WorkServiceServicer):
    """Mixed into the service's one WorkServicer."""

    async def GetTasks(
        self, request: work_pb2.GetTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        """Tasks by id, as far as the caller may see them (the same visibility as
        GetProjects): `projects.read_all` every task of the agency, `projects.read` the tasks
        of projects they are a member of, a client user the client-visible tasks of its own
        client's projects. The rest (unknown, unseen, another agency's) is left out, in the
        order asked."""
        principal = rpc_principal()
        if len(request.task_ids) > MAX_TASK_IDS:
            raise InvalidInput(f"at most {MAX_TASK_IDS} task ids per call")
        ids = list(dict.fromkeys(parse_uuid(raw, "task_ids") for raw in request.task_ids))
        client_id: uuid.UUID | None = None
        visible_to: uuid.UUID | None = None
        if principal.role == Role.CLIENT:
            if principal.client_id is None:
                raise PermissionDenied("this client user is bound to no client")
            client_id = principal.client_id
        else:
            principal.require("projects.read")
            if not sees_all_projects(principal):
                visible_to = principal.user_id
        if not ids:
            return work_pb2.ListTasksResponse()
        session = rpc_session()
        tasks = await task_repository.by_ids(
            session, ids, visible_to=visible_to, client_id=client_id
        )
        order = {task_id: i for i, task_id in enumerate(ids)}
        tasks.sort(key=lambda t: order[t.id])
        return work_pb2.ListTasksResponse(tasks=[task_message(t) for t in tasks])

    async def ListClientVisibleTasks(
        self, request: work_pb2.ListClientVisibleTasksRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListTasksResponse:
        principal = rpc_principal()
        project_id = parse_uuid(request.project_id, "project_id")
        session = rpc_session()
        project = await _project_for(session, principal, project_id, write=False)
        tasks = await task_repository.all_of(
            session,
            task_repository.filtered_query(
                project.id, TaskFilters(visible_to_client=True), sort="board"
            ),
        )
        return work_pb2.ListTasksResponse(tasks=[task_message(t) for t in tasks])

    async def CreateTaskFromFeedback(
        self, request: work_pb2.CreateTaskFromFeedbackRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Task:
        """A task at the bottom of the project's first `todo` column (else its first column),
        visible to the client unless `visible_to_client` says otherwise, with the caller's own
        completed uploads in the project (`attachment_ids`, not yet attached) attached.
        Allowed for a client user of the project's client, and for callers with `tasks.write`
        who see the project."""
        principal = rpc_principal()
        project_id = parse_uuid(request.project_id, "project_id")
        title = request.title.strip()
        if not title or len(title) > TITLE_MAX:
            raise InvalidInput(f"title must be 1 to {TITLE_MAX} characters")
        if len(request.description) > DESCRIPTION_MAX:
            raise InvalidInput(f"description must be at most {DESCRIPTION_MAX} characters")
        if "\x00" in title or "\x00" in request.description:
            raise InvalidInput("title and description must not contain NUL characters")
        visible = request.visible_to_client if request.HasField("visible_to_client") else True
        attachment_ids = [parse_uuid(raw, "attachment_ids") for raw in request.attachment_ids]
        session = rpc_session()
        project = await _project_for(session, principal, project_id, write=True)
        column = await column_repository.first_with_status(
            session, project.id, "todo"
        ) or await column_repository.first_with_status(session, project.id, None)
        if column is None:
            raise NotFound("the project's board has no columns")
        task = await task_service.insert(
            session,
            project,
            principal.user_id,
            NewTask(
                title=title,
                column=column,
                description=request.description or None,
                visible_to_client=visible,
                creator_follows=follows_tasks(principal),
            ),
        )
        # The caller's own completed uploads in the project become the task's attachments.
        await file_service.attach_to_task(session, principal, project, task.id, attachment_ids)
        await publish(
            session,
            FeedbackReceived(
                task_id=task.id,
                project_id=project.id,
                client_id=project.client_id,
                author_id=principal.user_id,
                excerpt=excerpt(request.description or title),
            ),
            source_service=SERVICE,
            subject=f"tasks/{task.id}",
        )
        return task_message(task)

    async def CreateTask(
        self, request: work_pb2.CreateTaskRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Task:
        """A task in the project's first column, exactly as `POST /v1/projects/{id}/tasks`
        makes one (the same schema, permission, visibility and checks; work.task.created and
        work.task.assigned published as usual), the caller its creator."""
        principal = rpc_principal()
        project_id = parse_uuid(request.project_id, "project_id")
        data = validated(
            TaskCreate,
            title=request.title,
            description=request.description or None,
            assignee_ids=[request.assignee_id] if request.assignee_id else [],
            due_date=request.due_date or None,
        )
        view = await task_service.create(rpc_session(), principal, project_id, data)
        return task_message(view.task)

    async def ListClientTaskComments(
        self, request: work_pb2.ListClientTaskCommentsRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.ListCommentsResponse:
        principal = rpc_principal()
        task_id = parse_uuid(request.task_id, "task_id")
        session = rpc_session()
        task = await _client_visible_task(session, principal, task_id, write=False)
        comments = await comment_repository.latest_client_visible(
            session, task.id, MAX_CLIENT_COMMENTS
        )
        return work_pb2.ListCommentsResponse(comments=[comment_message(c) for c in comments])

    async def AddClientComment(
        self, request: work_pb2.AddClientCommentRequest, context: grpc.aio.ServicerContext
    ) -> work_pb2.Comment:
        principal = rpc_principal()
        task_id = parse_uuid(request.task_id, "task_id")
        data = validated(CommentCreate, body=request.body, visibility="client")
        session = rpc_session()
        task = await _client_visible_task(session, principal, task_id, write=True)
        if principal.role == Role.CLIENT:
            comment = await comment_service.add_client_comment(session, principal, task, data.body)
        else:
            comment = await comment_service.create(session, principal, task.id, data)
        return comment_message(comment)
