import uuid

from fastapi import APIRouter, status

from agencyos.portal.file.schemas import PortalFile
from agencyos.portal.permissions import CLIENT_ONLY, PortalClient, Work
from agencyos.portal.project.schemas import (
    FeedbackCreate,
    PortalDeliverable,
    PortalMilestone,
    PortalProject,
    PortalProjectDetail,
    PortalProjects,
    PortalTask,
)
from agencyos.portal.project.service import portal_project_service

router = APIRouter(prefix="/v1/portal", tags=["portal"])


@router.get(
    "/projects",
    response_model=PortalProjects,
    summary="The client's projects",
    description=(
        "The projects of the caller's client (the token's client), with their status, "
        "progress (done tasks over all tasks, in percent), dates and next open milestone. "
        "Client users only."
    ),
    responses={**CLIENT_ONLY},
)
async def list_projects(caller: PortalClient, work: Work) -> PortalProjects:
    projects = await portal_project_service.projects(caller, work)
    return PortalProjects(items=[PortalProject.of(p) for p in projects])


@router.get(
    "/projects/{project_id}",
    response_model=PortalProjectDetail,
    summary="One of the client's projects",
    description=(
        "The project with the tasks the agency shows its client (internal tasks never appear), "
        "its deliverables (submitted ones await the client's decision), its milestones (name, "
        "due date, status; never amounts) and the files shown to the client (download each "
        "with `GET /v1/portal/files/{id}/download`). Client users only."
    ),
    responses={**CLIENT_ONLY, 404: {"description": "No such project of your client"}},
)
async def get_project(
    project_id: uuid.UUID, caller: PortalClient, work: Work
) -> PortalProjectDetail:
    view = await portal_project_service.project(caller, work, project_id)
    return PortalProjectDetail(
        **PortalProject.of(view.project).model_dump(),
        tasks=[PortalTask.of(t) for t in view.tasks],
        deliverables=[PortalDeliverable.of(d) for d in view.deliverables],
        milestones=[PortalMilestone.of(m) for m in view.project.milestones],
        files=[PortalFile.of(f) for f in view.files],
    )


@router.post(
    "/feedback",
    status_code=status.HTTP_201_CREATED,
    response_model=PortalTask,
    summary="Send feedback on a project",
    description=(
        "The message becomes a task in the project (its first line the title, the whole "
        "message the description), visible to the client, so its status shows in the project. "
        "`attachments`: ids of your own completed uploads in the project, attached to the task. "
        "The project's managers are notified. Client users only."
    ),
    responses={
        **CLIENT_ONLY,
        404: {"description": "No such project of your client"},
        422: {
            "description": "The message is empty or too long, or an attachment is not your "
            "own completed upload in this project"
        },
    },
)
async def send_feedback(body: FeedbackCreate, caller: PortalClient, work: Work) -> PortalTask:
    task = await portal_project_service.send_feedback(
        caller, work, body.project_id, body.message, body.attachments
    )
    return PortalTask.of(task)
