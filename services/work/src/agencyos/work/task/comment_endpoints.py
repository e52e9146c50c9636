import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.work.project.permissions import ProjectsRead
from agencyos.work.task.comments import comment_service
from agencyos.work.task.permissions import TasksWrite
from agencyos.work.task.schemas import Comment, CommentCreate, CommentUpdate, comment_out

router = APIRouter(tags=["comments"])

_TASK_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such task in a project you can see"}
}
_COMMENT_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "Only the comment's author may change or delete it"},
    404: {"description": "No such comment on a task you can see"},
}
VISIBILITY_DESCRIPTION = (
    " Visibility: `internal` (the default) is for the agency's team; `client` also shows the "
    "comment to the users of the project's client in the portal, and is accepted only on a "
    "task visible to the client (422 naming `visibility` otherwise). Client users do not "
    "reach these routes; they read and write client-visible comments through the portal."
)
MENTIONS_DESCRIPTION = (
    " Mentions: write `@[Name](user-uuid)` in the markdown body, or list user ids in "
    "`mentions` (or both). Every mentioned user must be a member of the task's project: "
    "anyone else is refused with 422 naming `mentions`. Each mentioned member other than the "
    "author gets one `work.comment.mentioned` event."
)


@router.get(
    "/v1/tasks/{task_id}/comments",
    response_model=Page[Comment],
    summary="List a task's comments",
    description="Oldest first, internal and client-visible alike, each with its `visibility`.",
    responses=_TASK_404,
)
async def list_comments(
    task_id: uuid.UUID, principal: ProjectsRead, session: TenantSession, pagination: Pagination
) -> Page[Comment]:
    rows, total = await comment_service.list_comments(session, principal, task_id, pagination)
    return pagination.page_of([comment_out(c) for c in rows], total)


@router.post(
    "/v1/tasks/{task_id}/comments",
    status_code=status.HTTP_201_CREATED,
    response_model=Comment,
    summary="Comment on a task",
    description="A markdown comment by the caller, logged in the task's activity."
    + VISIBILITY_DESCRIPTION
    + MENTIONS_DESCRIPTION,
    responses={**_TASK_404, 422: {"description": "Invalid fields (named in `errors`)"}},
)
async def create_comment(
    task_id: uuid.UUID,
    body: CommentCreate,
    principal: TasksWrite,
    session: TenantSession,
    response: Response,
) -> Comment:
    comment = await comment_service.create(session, principal, task_id, body)
    response.headers["Location"] = f"/v1/comments/{comment.id}"
    return comment_out(comment)


@router.patch(
    "/v1/comments/{comment_id}",
    response_model=Comment,
    summary="Edit a comment",
    description="By its author only. Only mentions the edit adds are notified; `visibility` "
    "left out keeps the comment's. Making a comment client-visible publishes no new event (the "
    "client's users see it in the portal), and making it internal again hides it there."
    + VISIBILITY_DESCRIPTION
    + MENTIONS_DESCRIPTION,
    responses={**_COMMENT_RESPONSES, 422: {"description": "Invalid fields (named in `errors`)"}},
)
async def update_comment(
    comment_id: uuid.UUID, body: CommentUpdate, principal: TasksWrite, session: TenantSession
) -> Comment:
    return comment_out(await comment_service.update(session, principal, comment_id, body))


@router.delete(
    "/v1/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a comment",
    description="By its author only; the task's activity keeps a `comment_deleted` entry.",
    responses=_COMMENT_RESPONSES,
)
async def delete_comment(
    comment_id: uuid.UUID, principal: TasksWrite, session: TenantSession
) -> Response:
    await comment_service.delete(session, principal, comment_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
