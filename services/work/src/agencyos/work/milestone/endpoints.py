import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.work.milestone.schemas import (
    Milestone,
    MilestoneCreate,
    MilestoneSort,
    MilestoneStatus,
    MilestoneUpdate,
    milestone_out,
)
from agencyos.work.milestone.service import milestone_service
from agencyos.work.project.permissions import ProjectsRead, ProjectsWrite

router = APIRouter(tags=["milestones"])

_PROJECT_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project that you can see"}
}
_MILESTONE_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such milestone in a project you can see"}
}
_422: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid fields (named in `errors`)"}}


@router.post(
    "/v1/projects/{project_id}/milestones",
    status_code=status.HTTP_201_CREATED,
    response_model=Milestone,
    summary="Create a milestone",
    description=(
        "An open milestone of the project. `amount_cents` (in the project's currency) is what "
        "billing invoices when the milestone is completed; leave it out for a milestone that "
        "is not billed. Needs `projects.write`."
    ),
    responses={**_PROJECT_404, **_422},
)
async def create_milestone(
    project_id: uuid.UUID,
    body: MilestoneCreate,
    principal: ProjectsWrite,
    session: TenantSession,
    response: Response,
) -> Milestone:
    view = await milestone_service.create(session, principal, project_id, body)
    response.headers["Location"] = f"/v1/milestones/{view.milestone.id}"
    return milestone_out(view.milestone, view.project)


@router.get(
    "/v1/projects/{project_id}/milestones",
    response_model=Page[Milestone],
    summary="List a project's milestones",
    description=(
        "Filter by `status`; sort by `due_date` (the default; milestones without a due date "
        "last), `name` or `created_at`, `-` for descending."
    ),
    responses=_PROJECT_404,
)
async def list_milestones(
    project_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
    status_filter: Annotated[MilestoneStatus | None, Query(alias="status")] = None,
    sort: MilestoneSort = MilestoneSort.DUE_DATE,
) -> Page[Milestone]:
    project, items, total = await milestone_service.list_milestones(
        session,
        principal,
        project_id,
        pagination,
        status=status_filter.value if status_filter else None,
        sort=sort.value,
    )
    return pagination.page_of([milestone_out(m, project) for m in items], total)


@router.get(
    "/v1/milestones/{milestone_id}",
    response_model=Milestone,
    summary="Get a milestone",
    responses=_MILESTONE_404,
)
async def get_milestone(
    milestone_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Milestone:
    view = await milestone_service.get(session, principal, milestone_id)
    return milestone_out(view.milestone, view.project)


@router.patch(
    "/v1/milestones/{milestone_id}",
    response_model=Milestone,
    summary="Update a milestone",
    description=(
        "Only the fields sent change; null clears `due_date` or `amount_cents`. `status: "
        "completed` completes the milestone as `POST /v1/milestones/{id}/complete` does "
        "(publishing `work.milestone.completed`); `status: open` reopens a completed one and "
        "clears `completed_at`. Work does not know whether billing has invoiced a completed "
        "milestone, so reopening is always allowed; billing bills a milestone once by its id. "
        "Needs `projects.write`."
    ),
    responses={**_MILESTONE_404, **_422},
)
async def update_milestone(
    milestone_id: uuid.UUID,
    body: MilestoneUpdate,
    principal: ProjectsWrite,
    session: TenantSession,
) -> Milestone:
    view = await milestone_service.update(session, principal, milestone_id, body)
    return milestone_out(view.milestone, view.project)


@router.post(
    "/v1/milestones/{milestone_id}/complete",
    response_model=Milestone,
    summary="Complete a milestone",
    description=(
        "Sets `status: completed` and `completed_at`, and publishes `work.milestone.completed` "
        "(with `amount_cents` and the project's currency, for billing) in the same "
        "transaction. Completing a completed milestone answers 409 and publishes nothing. "
        "Needs `projects.write`."
    ),
    responses={**_MILESTONE_404, 409: {"description": "The milestone is already completed"}},
)
async def complete_milestone(
    milestone_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Milestone:
    view = await milestone_service.complete(session, principal, milestone_id)
    return milestone_out(view.milestone, view.project)


@router.delete(
    "/v1/milestones/{milestone_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a milestone",
    description=(
        "Only an open milestone that no task points at; a completed one (possibly billed) or "
        "one with tasks answers 409. Needs `projects.write`."
    ),
    responses={
        **_MILESTONE_404,
        409: {"description": "The milestone is completed, or tasks point at it"},
    },
)
async def delete_milestone(
    milestone_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Response:
    await milestone_service.delete(session, principal, milestone_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
