import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from agencyos.common.errors import BadRequest
from agencyos.common.pagination import Page, Pagination
from agencyos.common.types import INT32_MAX, IsoDate, Name
from agencyos.common.web import TenantSession
from agencyos.work.models import Task as TaskRow
from agencyos.work.project.permissions import ProjectsRead
from agencyos.work.task.permissions import TasksWrite
from agencyos.work.task.repository import TaskFilters
from agencyos.work.task.schemas import (
    Priority,
    Subtask,
    SubtaskCreate,
    SubtaskUpdate,
    Task,
    TaskCreate,
    TaskMove,
    TaskSort,
    TaskStatus,
    TaskSummary,
    TaskUpdate,
    task_detail,
    task_summary,
)
from agencyos.work.task.service import task_service
from agencyos.work.task.subtasks import subtask_service

router = APIRouter(tags=["tasks"])

IF_MATCH_DESCRIPTION = (
    'The task version this write is based on (the `ETag` of an earlier answer, e.g. `"3"`). '
    "If the task has changed since, the write is refused with 409 and `current_version`. "
    "Without it the write applies to whatever version is current."
)
# Query text PostgreSQL can hold (no NUL characters).
IfMatch = Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DESCRIPTION)]

_TASK_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such task in a project you can see"}
}
_PROJECT_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project that you can see"}
}
_VERSION_409: dict[int | str, dict[str, Any]] = {
    400: {"description": "`If-Match` is not a version as the task's `ETag` gives it"},
    409: {
        "description": ("`If-Match` names a stale version: the problem carries `current_version`")
    },
}
_ETAG = {"ETag": {"description": "The task's version, quoted (use it in `If-Match`)"}}


def expected_version(if_match: str | None) -> int | None:
    """The version an `If-Match` header names (`"3"`, `3` or `W/"3"`); `*` or none: any."""
    if if_match is None:
        return None
    value = if_match.strip()
    if value == "*":
        return None
    if value.startswith("W/"):
        value = value[2:]
    value = value.strip().strip('"')
    # ASCII digits only (str.isdigit also takes "²"), and no more than a version can be.
    if not (value.isascii() and value.isdigit() and len(value) <= 10 and int(value) <= INT32_MAX):
        raise BadRequest('If-Match must be a task version as its ETag gives it, e.g. "3"')
    return int(value)


def set_etag(response: Response, task: TaskRow) -> None:
    response.headers["ETag"] = f'"{task.version}"'


@router.post(
    "/v1/projects/{project_id}/tasks",
    status_code=status.HTTP_201_CREATED,
    response_model=Task,
    summary="Create a task",
    description=(
        "A task at the bottom of a column of the project's board: `column_id`, or the first "
        "column with `status`, or else the first column. Its status is the column's (a task "
        "created in a done column is completed). `assignee_ids` must be members of the "
        "project, `milestone_id` a milestone of it and `blocked_by` tasks of it (422 naming "
        "the field otherwise). Publishes `work.task.created` and one `work.task.assigned` per "
        "assignee; the caller follows the task."
    ),
    responses={
        **_PROJECT_404,
        201: {"headers": _ETAG},
        422: {"description": "Invalid fields (named in `errors`)"},
    },
)
async def create_task(
    project_id: uuid.UUID,
    body: TaskCreate,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
) -> Task:
    view = await task_service.create(session, principal, project_id, body)
    response.headers["Location"] = f"/v1/tasks/{view.task.id}"
    set_etag(response, view.task)
    return task_detail(view)


@router.get(
    "/v1/projects/{project_id}/tasks",
    response_model=Page[TaskSummary],
    summary="List a project's tasks",
    description=(
        "Filters combine: `assignee` (a user id among the assignees), `status`, `priority`, "
        "`label`, `milestone_id`, `column_id`, `visible_to_client`, `due_before` / "
        "`due_after` (inclusive ISO dates; tasks without a due date drop out), and `q` "
        "(case-insensitive, in title and description). Sort: `board` (column by column, "
        "top to bottom; the default) or a field, `-` for descending."
    ),
    responses=_PROJECT_404,
)
async def list_tasks(
    project_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
    assignee: uuid.UUID | None = None,
    status_filter: Annotated[TaskStatus | None, Query(alias="status")] = None,
    priority: Priority | None = None,
    due_before: IsoDate | None = None,
    due_after: IsoDate | None = None,
    label: Annotated[Name | None, Query(min_length=1, max_length=50)] = None,
    milestone_id: uuid.UUID | None = None,
    column_id: uuid.UUID | None = None,
    visible_to_client: bool | None = None,
    q: Annotated[Name | None, Query(min_length=1, max_length=200)] = None,
    sort: TaskSort = TaskSort.BOARD,
) -> Page[TaskSummary]:
    filters = TaskFilters(
        assignee_id=assignee,
        status=status_filter.value if status_filter else None,
        priority=priority.value if priority else None,
        due_before=due_before,
        due_after=due_after,
        label=label,
        milestone_id=milestone_id,
        column_id=column_id,
        visible_to_client=visible_to_client,
        q=q,
    )
    views, total = await task_service.list_tasks(
        session, principal, project_id, filters, sort=sort.value, params=pagination
    )
    return pagination.page_of([task_summary(v) for v in views], total)


@router.get(
    "/v1/tasks/{task_id}",
    response_model=Task,
    summary="Get a task",
    description="The task with its checklist, blockers and the tasks it blocks.",
    responses={**_TASK_404, 200: {"headers": _ETAG}},
)
async def get_task(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, response: Response
) -> Task:
    view = await task_service.get(session, principal, task_id)
    set_etag(response, view.task)
    return task_detail(view)


@router.patch(
    "/v1/tasks/{task_id}",
    response_model=Task,
    summary="Edit a task",
    description=(
        "Only the fields sent change; each change is logged with its old and new value and "
        "bumps the version. `blocked_by` replaces the task's blockers: tasks of the same "
        "project, and never a cycle (A blocked by B blocked by … A), else 422 naming "
        "`blocked_by`. Moving to another column is `POST /v1/tasks/{id}/move`. Publishes "
        "`work.task.updated` with `changed_fields`, and one `work.task.assigned` per assignee "
        "the edit adds."
    ),
    responses={
        **_TASK_404,
        **_VERSION_409,
        200: {"headers": _ETAG},
        422: {"description": "Invalid fields (named in `errors`)"},
    },
)
async def update_task(
    task_id: uuid.UUID,
    body: TaskUpdate,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
    if_match: IfMatch = None,
) -> Task:
    view = await task_service.update(
        session, principal, task_id, body, expected_version=expected_version(if_match)
    )
    set_etag(response, view.task)
    return task_detail(view)


@router.delete(
    "/v1/tasks/{task_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a task",
    description=(
        "Deletes the task with its subtasks, comments and dependencies; the project's "
        "activity feed keeps its history (with a `deleted` entry) and `work.task.deleted` "
        "is published. Honours `If-Match`."
    ),
    responses={**_TASK_404, **_VERSION_409},
)
async def delete_task(
    task_id: uuid.UUID,
    principal: TasksWrite,
    session: TenantSession,
    if_match: IfMatch = None,
) -> Response:
    await task_service.delete(
        session, principal, task_id, expected_version=expected_version(if_match)
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/tasks/{task_id}/move",
    response_model=Task,
    summary="Move a task on the board",
    description=(
        "Moves the task to `column_id` (a column of its project's board), right above "
        "`before_id` or right below `after_id` (a task of that column), or to its bottom. "
        "Only the task's row is written: its position becomes the midpoint between its new "
        "neighbours (when they are too close together, the column is first spread out "
        "again). The task takes the column's status: entering a done column completes it "
        "(`completed_at`, `work.task.completed`), leaving one reopens it. Publishes "
        "`work.task.moved`. Send `If-Match` to refuse the move when someone else changed the "
        "task meanwhile (409 with `current_version`)."
    ),
    responses={
        **_TASK_404,
        **_VERSION_409,
        200: {"headers": _ETAG},
        422: {"description": "Unknown column or anchor task (named in `errors`)"},
    },
)
async def move_task(
    task_id: uuid.UUID,
    body: TaskMove,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
    if_match: IfMatch = None,
) -> Task:
    view = await task_service.move(
        session, principal, task_id, body, expected_version=expected_version(if_match)
    )
    set_etag(response, view.task)
    return task_detail(view)


@router.post(
    "/v1/tasks/{task_id}/subtasks",
    status_code=status.HTTP_201_CREATED,
    response_model=Subtask,
    summary="Add a subtask",
    description=(
        "A checklist item at the end of the task's checklist. Bumps the task's version (the "
        "`ETag` is the task's) and publishes `work.task.updated`."
    ),
    responses={**_TASK_404, 201: {"headers": _ETAG}},
)
async def add_subtask(
    task_id: uuid.UUID,
    body: SubtaskCreate,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
) -> Subtask:
    subtask, task = await subtask_service.add_subtask(session, principal, task_id, body)
    set_etag(response, task)
    return Subtask.model_validate(subtask)


@router.patch(
    "/v1/subtasks/{subtask_id}",
    response_model=Subtask,
    tags=["tasks"],
    summary="Edit a subtask",
    description=(
        "Rename it or tick it off. Bumps the task's version (the `ETag` is the task's) and "
        "publishes `work.task.updated`."
    ),
    responses={404: {"description": "No such subtask in a project you can see"}},
)
async def update_subtask(
    subtask_id: uuid.UUID,
    body: SubtaskUpdate,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
) -> Subtask:
    subtask, task = await subtask_service.update_subtask(session, principal, subtask_id, body)
    set_etag(response, task)
    return Subtask.model_validate(subtask)


@router.delete(
    "/v1/subtasks/{subtask_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subtask",
    responses={404: {"description": "No such subtask in a project you can see"}},
)
async def delete_subtask(
    subtask_id: uuid.UUID, principal: TasksWrite, session: TenantSession
) -> Response:
    task = await subtask_service.delete_subtask(session, principal, subtask_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"ETag": f'"{task.version}"'})
