import uuid

from fastapi import APIRouter

from agencyos.portal.deliverable.schemas import DeliverableApproval, DeliverableChangesRequest
from agencyos.portal.deliverable.service import portal_deliverable_service
from agencyos.portal.permissions import CLIENT_ONLY, PortalClient, Responses, Work
from agencyos.portal.project.schemas import PortalDeliverable

router = APIRouter(prefix="/v1/portal/deliverables/{deliverable_id}", tags=["portal"])

DECISION_ERRORS: Responses = {
    **CLIENT_ONLY,
    404: {"description": "No such deliverable of your client's projects"},
    412: {"description": "The deliverable is not awaiting a decision (already decided)"},
}


@router.post(
    "/approve",
    response_model=PortalDeliverable,
    summary="Approve a deliverable",
    description=(
        "A submitted deliverable becomes `approved`, with an optional comment; the project's "
        "managers are notified. Client users only."
    ),
    responses={**DECISION_ERRORS, 422: {"description": "The comment is too long"}},
)
async def approve_deliverable(
    deliverable_id: uuid.UUID,
    caller: PortalClient,
    work: Work,
    body: DeliverableApproval | None = None,
) -> PortalDeliverable:
    comment = body.comment if body is not None else None
    deliverable = await portal_deliverable_service.approve(caller, work, deliverable_id, comment)
    return PortalDeliverable.of(deliverable)


@router.post(
    "/request-changes",
    response_model=PortalDeliverable,
    summary="Ask for changes to a deliverable",
    description=(
        "A submitted deliverable goes back to the agency (`changes_requested`) with the "
        "client's comment, required; the project's managers are notified. Client users only."
    ),
    responses={**DECISION_ERRORS, 422: {"description": "The comment is missing or too long"}},
)
async def request_deliverable_changes(
    deliverable_id: uuid.UUID,
    body: DeliverableChangesRequest,
    caller: PortalClient,
    work: Work,
) -> PortalDeliverable:
    deliverable = await portal_deliverable_service.request_changes(
        caller, work, deliverable_id, body.comment
    )
    return PortalDeliverable.of(deliverable)
