import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.time.peers import Peers
from agencyos.time.team.permissions import CapacityRead, CapacityWrite
from agencyos.time.team.schemas import (
    CapacityUpdate,
    RosterStatus,
    TeamMemberCapacity,
    capacity_out,
)
from agencyos.time.team.service import team_service

router = APIRouter(prefix="/v1/capacity", tags=["capacity"])

_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such team member in your agency (client users have no capacity)"}
}
_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "Someone else's capacity, without `timesheets.approve`"}
}


@router.get(
    "",
    response_model=Page[TeamMemberCapacity],
    summary="The team with weekly capacity",
    description=(
        "The agency's people (never client users) with their weekly capacity hours (default "
        "40), kept from identity's member events. Managers and above (`timesheets.approve`) "
        "see everyone; anyone else sees only themselves. By default everyone still in the "
        "agency (`active` and `suspended`); `status` narrows to one status, `removed` shows "
        "people who left. Sorted by name."
    ),
)
async def list_capacity(
    principal: CapacityRead,
    session: TenantSession,
    pagination: Pagination,
    status: Annotated[
        RosterStatus | None, Query(description="Only people in this roster status")
    ] = None,
) -> Page[TeamMemberCapacity]:
    members, total = await team_service.list_team(
        session, principal, pagination, status=status.value if status else None
    )
    return pagination.page_of([capacity_out(m) for m in members], total)


@router.get(
    "/{user_id}",
    response_model=TeamMemberCapacity,
    summary="One person's weekly capacity",
    description="Your own, or anyone's with `timesheets.approve`.",
    responses={**_403, **_404},
)
async def get_capacity(
    user_id: uuid.UUID, principal: CapacityRead, session: TenantSession
) -> TeamMemberCapacity:
    return capacity_out(await team_service.get(session, principal, user_id))


@router.put(
    "/{user_id}",
    response_model=TeamMemberCapacity,
    summary="Set a person's weekly capacity",
    description=(
        "`weekly_capacity_hours` from 0 to 168 (two decimals; 0 for someone who is not "
        "planned for client work). Utilization counts it pro rata per working day. Needs "
        "`rates.write` (managers and above)."
    ),
    responses={
        403: {"description": "Without `rates.write`"},
        **_404,
        422: {"description": "Hours outside 0-168 or not a number (named in `errors`)"},
    },
)
async def set_capacity(
    user_id: uuid.UUID,
    body: CapacityUpdate,
    principal: CapacityWrite,
    session: TenantSession,
    request: Request,
) -> TeamMemberCapacity:
    member = await team_service.set_capacity(
        session, principal, Peers.of(request), user_id, body.weekly_capacity_hours
    )
    return capacity_out(member)
