import uuid

from fastapi import APIRouter, status

from agencyos.portal.comment.schemas import PortalComment, PortalCommentCreate, PortalComments
from agencyos.portal.comment.service import portal_comment_service
from agencyos.portal.permissions import CLIENT_ONLY, PortalClient, Responses, Work

router = APIRouter(prefix="/v1/portal/tasks/{task_id}/comments", tags=["portal"])

NO_TASK: Responses = {404: {"description": "No such task shown to your client"}}


@router.get(
    "",
    response_model=PortalComments,
    summary="The comments on a task",
    description=(
        "The comments the agency shares with its client on a task shown to the client, oldest "
        "first (at most the latest 500); internal comments never appear. Client users only."
    ),
    responses={**CLIENT_ONLY, **NO_TASK},
)
async def list_comments(task_id: uuid.UUID, caller: PortalClient, work: Work) -> PortalComments:
    comments = await portal_comment_service.comments(caller, work, task_id)
    return PortalComments(items=[PortalComment.of(c) for c in comments])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PortalComment,
    summary="Comment on a task",
    description=(
        "A comment (markdown) on a task shown to the client, visible to the client and the "
        "agency's team (who are notified as for any comment). Client users only."
    ),
    responses={
        **CLIENT_ONLY,
        **NO_TASK,
        422: {"description": "The body is empty or too long"},
    },
)
async def add_comment(
    task_id: uuid.UUID, body: PortalCommentCreate, caller: PortalClient, work: Work
) -> PortalComment:
    comment = await portal_comment_service.add(caller, work, task_id, body.body)
    return PortalComment.of(comment)
