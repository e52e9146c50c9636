import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.work.deliverable.permissions import DeliverableRead
from agencyos.work.deliverable.schemas import (
    ChangesRequest,
    Decision,
    DecisionWithComment,
    Deliverable,
    DeliverableCreate,
    DeliverableSort,
    DeliverableStatus,
    DeliverableSubmit,
    DeliverableUpdate,
    decision_out,
    deliverable_out,
)
from agencyos.work.deliverable.service import deliverable_service
from agencyos.work.project.permissions import ProjectsRead, ProjectsWrite

router = APIRouter(tags=["deliverables"])

_PROJECT_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project that you can see"}
}
_DELIVERABLE_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such deliverable in a project you can see"}
}
_422: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid fields (named in `errors`)"}}


def _state_409(what: str) -> dict[int | str, dict[str, Any]]:
    return {409: {"description": f"{what} (the problem carries `current_status`)"}}


@router.post(
    "/v1/projects/{project_id}/deliverables",
    status_code=status.HTTP_201_CREATED,
    response_model=Deliverable,
    summary="Create a deliverable",
    description=(
        "A draft deliverable of the project: a `title`, an optional markdown `description`, "
        "and where the work is — an https `link_url` and/or a `file_ref`. The client sees it "
        "once it is submitted (`POST /v1/deliverables/{id}/submit`). Needs `projects.write`."
    ),
    responses={**_PROJECT_404, **_422},
)
async def create_deliverable(
    project_id: uuid.UUID,
    body: DeliverableCreate,
    principal: ProjectsWrite,
    session: TenantSession,
    response: Response,
) -> Deliverable:
    view = await deliverable_service.create(session, principal, project_id, body)
    response.headers["Location"] = f"/v1/deliverables/{view.deliverable.id}"
    return deliverable_out(view.deliverable)


@router.get(
    "/v1/projects/{project_id}/deliverables",
    response_model=Page[Deliverable],
    summary="List a project's deliverables",
    description=(
        "Filter by `status`; sort by `created_at` (the default), `title` or `submitted_at`, "
        "`-` for descending."
    ),
    responses=_PROJECT_404,
)
async def list_deliverables(
    project_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
    status_filter: Annotated[DeliverableStatus | None, Query(alias="status")] = None,
    sort: DeliverableSort = DeliverableSort.CREATED_AT,
) -> Page[Deliverable]:
    items, total = await deliverable_service.list_deliverables(
        session,
        principal,
        project_id,
        pagination,
        status=status_filter.value if status_filter else None,
        sort=sort.value,
    )
    return pagination.page_of([deliverable_out(d) for d in items], total)


@router.get(
    "/v1/deliverables/{deliverable_id}",
    response_model=Deliverable,
    summary="Get a deliverable",
    description=(
        "Staff see the deliverables of the projects they see. A client user sees those of its "
        "own client's projects that the client sees (submitted, approved or changes "
        "requested; never a draft)."
    ),
    responses=_DELIVERABLE_404,
)
async def get_deliverable(
    deliverable_id: uuid.UUID, principal: DeliverableRead, session: TenantSession
) -> Deliverable:
    view = await deliverable_service.get(session, principal, deliverable_id)
    return deliverable_out(view.deliverable)


@router.patch(
    "/v1/deliverables/{deliverable_id}",
    response_model=Deliverable,
    summary="Edit a deliverable",
    description=(
        "Only the fields sent change; null clears `description`, `link_url` or `file_ref`. "
        "Only while the agency holds the deliverable (`draft` or `changes_requested`): once "
        "submitted or approved it answers 409. Needs `projects.write`."
    ),
    responses={
        **_DELIVERABLE_404,
        **_422,
        **_state_409("The deliverable is submitted or approved"),
    },
)
async def update_deliverable(
    deliverable_id: uuid.UUID,
    body: DeliverableUpdate,
    principal: ProjectsWrite,
    session: TenantSession,
) -> Deliverable:
    view = await deliverable_service.update(session, principal, deliverable_id, body)
    return deliverable_out(view.deliverable)


@router.delete(
    "/v1/deliverables/{deliverable_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a deliverable",
    description=(
        "With its history; only while `draft` or `changes_requested` (409 otherwise: what "
        "the client is looking at or has approved stays). Needs `projects.write`."
    ),
    responses={**_DELIVERABLE_404, **_state_409("The deliverable is submitted or approved")},
)
async def delete_deliverable(
    deliverable_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Response:
    await deliverable_service.delete(session, principal, deliverable_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/deliverables/{deliverable_id}/submit",
    response_model=Deliverable,
    summary="Submit a deliverable to the client",
    description=(
        "From `draft` or `changes_requested` to `submitted` (409 from any other status): sets "
        "`submitted_at`, clears `decided_at`, records a `submitted` entry in the history "
        "with the optional `comment`, and publishes `work.deliverable.submitted`. The "
        "client then approves or requests changes (through the portal). Needs "
        "`projects.write`."
    ),
    responses={
        **_DELIVERABLE_404,
        **_422,
        **_state_409("The deliverable is already submitted or approved"),
    },
)
async def submit_deliverable(
    deliverable_id: uuid.UUID,
    principal: ProjectsWrite,
    session: TenantSession,
    body: Annotated[DeliverableSubmit | None, Body()] = None,
) -> Deliverable:
    comment = body.comment if body else None
    view = await deliverable_service.submit(session, principal, deliverable_id, comment)
    return deliverable_out(view.deliverable)


@router.post(
    "/v1/deliverables/{deliverable_id}/approve",
    response_model=Deliverable,
    summary="Record the client's approval",
    description=(
        "For agency staff recording a decision the client made elsewhere (the client itself "
        "decides through the portal). Only a `submitted` deliverable (409 otherwise): "
        "`approved`, `decided_at` set, an `approved` history entry with the optional "
        "`comment`, and `work.deliverable.approved`. Needs `projects.write`."
    ),
    responses={
        **_DELIVERABLE_404,
        **_422,
        **_state_409("The deliverable is not submitted"),
    },
)
async def approve_deliverable(
    deliverable_id: uuid.UUID,
    principal: ProjectsWrite,
    session: TenantSession,
    body: Annotated[DecisionWithComment | None, Body()] = None,
) -> Deliverable:
    comment = body.comment if body else None
    view = await deliverable_service.approve(session, principal, deliverable_id, comment)
    return deliverable_out(view.deliverable)


@router.post(
    "/v1/deliverables/{deliverable_id}/request-changes",
    response_model=Deliverable,
    summary="Record the client's change request",
    description=(
        "For agency staff recording a decision the client made elsewhere. Only a "
        "`submitted` deliverable (409 otherwise): `changes_requested`, `decided_at` set, a "
        "history entry with the required `comment` (what should change), and "
        "`work.deliverable.changes_requested`. The deliverable is editable again and can be "
        "resubmitted. Needs `projects.write`."
    ),
    responses={
        **_DELIVERABLE_404,
        **_422,
        **_state_409("The deliverable is not submitted"),
    },
)
async def request_deliverable_changes(
    deliverable_id: uuid.UUID,
    body: ChangesRequest,
    principal: ProjectsWrite,
    session: TenantSession,
) -> Deliverable:
    view = await deliverable_service.request_changes(
        session, principal, deliverable_id, body.comment
    )
    return deliverable_out(view.deliverable)


@router.get(
    "/v1/deliverables/{deliverable_id}/history",
    response_model=Page[Decision],
    summary="A deliverable's history",
    description=(
        "Every submission and every decision on the deliverable, newest first, with its "
        "comment, who made it (`actor_id`) and when."
    ),
    responses=_DELIVERABLE_404,
)
async def deliverable_history(
    deliverable_id: uuid.UUID,
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
) -> Page[Decision]:
    items, total = await deliverable_service.history(session, principal, deliverable_id, pagination)
    return pagination.page_of([decision_out(d) for d in items], total)
