import uuid

from fastapi import APIRouter

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.work.project.permissions import ProjectsRead
from agencyos.work.task.activity import activity_service
from agencyos.work.task.schemas import Activity, activity_out

router = APIRouter(tags=["activity"])

_DESCRIPTION = (
    " Newest first. Each entry is one change: who (`actor_id`), when, the `action` and every "
    "changed field with its `old` and `new` value (ids and dates as strings)."
)


@router.get(
    "/v1/tasks/{task_id}/activity",
    response_model=Page[Activity],
    summary="A task's history",
    description="Every change to the task: creation, edits, moves, completion, subtasks, "
    "dependencies and comments." + _DESCRIPTION,
    responses={404: {"description": "No such task in a project you can see"}},
)
async def task_activity(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, pagination: Pagination
) -> Page[Activity]:
    rows, total = await activity_service.of_task(session, principal, task_id, pagination)
    return pagination.page_of([activity_out(a) for a in rows], total)


@router.get(
    "/v1/projects/{project_id}/activity",
    response_model=Page[Activity],
    summary="A project's activity feed",
    description="The history of every task of the project, deleted ones included." + _DESCRIPTION,
    responses={404: {"description": "No such project that you can see"}},
)
async def project_activity(
    project_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
) -> Page[Activity]:
    rows, total = await activity_service.of_project(session, principal, project_id, pagination)
    return pagination.page_of([activity_out(a) for a in rows], total)
