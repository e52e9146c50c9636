import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, status

from agencyos.common.errors import InvalidInput
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.crm.client.permissions import ClientsRead, ClientsWrite
from agencyos.crm.models.timeline_entry import AUTOMATIC_KINDS, MANUAL_KINDS
from agencyos.crm.timeline.schemas import TimelineEntry, TimelineEntryCreate
from agencyos.crm.timeline.service import timeline_service

router = APIRouter(prefix="/v1/clients/{client_id}/timeline", tags=["timeline"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such client in your agency"}
}
KINDS = (*MANUAL_KINDS, *AUTOMATIC_KINDS)


@router.get(
    "",
    response_model=Page[TimelineEntry],
    summary="A client's timeline, newest first",
    responses=_NOT_FOUND,
)
async def list_timeline(
    client_id: uuid.UUID,
    principal: ClientsRead,
    session: TenantSession,
    pagination: Pagination,
    kind: Annotated[
        list[str] | None,
        Query(description=f"Only these kinds (repeatable): {', '.join(KINDS)}"),
    ] = None,
) -> Page[TimelineEntry]:
    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        raise InvalidInput(
            f"unknown timeline kinds: {', '.join(unknown)}",
            errors=[{"field": "kind", "message": f"unknown kind '{k}'"} for k in unknown],
        )
    entries, total = await timeline_service.page(
        session,
        principal,
        client_id,
        kinds=kind,
        page=pagination.page,
        per_page=pagination.per_page,
    )
    return pagination.page_of([TimelineEntry.model_validate(e) for e in entries], total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TimelineEntry,
    summary="Log a note, call, email or meeting",
    responses=_NOT_FOUND,
)
async def log_entry(
    client_id: uuid.UUID,
    body: TimelineEntryCreate,
    principal: ClientsWrite,
    session: TenantSession,
) -> TimelineEntry:
    entry = await timeline_service.log(session, principal, client_id, body)
    return TimelineEntry.model_validate(entry)
