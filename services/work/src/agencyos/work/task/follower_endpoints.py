import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.work.project.permissions import ProjectsRead
from agencyos.work.task.followers import follower_service
from agencyos.work.task.schemas import Follower

router = APIRouter(tags=["tasks"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Client users and API keys do not follow tasks"},
    404: {"description": "No such task in a project you can see"},
}


@router.get(
    "/v1/tasks/{task_id}/followers",
    response_model=Page[Follower],
    summary="List a task's followers",
    description=(
        "The members who hear about the task's comments, longest-standing first. A task's "
        "creator follows it, and so does everyone who comments on it."
    ),
    responses=_RESPONSES,
)
async def list_followers(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, pagination: Pagination
) -> Page[Follower]:
    rows, total = await follower_service.list_followers(session, principal, task_id, pagination)
    return pagination.page_of([Follower.model_validate(r) for r in rows], total)


@router.put(
    "/v1/tasks/{task_id}/followers/me",
    response_model=Follower,
    summary="Follow a task",
    description=(
        "The caller follows the task (any task they can see). Following again changes "
        "nothing: the answer keeps the first `followed_at`. An API key cannot follow (403)."
    ),
    responses=_RESPONSES,
)
async def follow_task(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Follower:
    return Follower.model_validate(await follower_service.follow(session, principal, task_id))


@router.delete(
    "/v1/tasks/{task_id}/followers/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Unfollow a task",
    description=(
        "The caller stops following the task; 204 whether or not they followed it. "
        "Commenting on the task later follows it again."
    ),
    responses=_RESPONSES,
)
async def unfollow_task(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Response:
    await follower_service.unfollow(session, principal, task_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
