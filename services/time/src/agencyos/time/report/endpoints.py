import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from agencyos.common.types import IsoDate
from agencyos.common.web import CurrentPrincipal, TenantSession
from agencyos.time.peers import Peers
from agencyos.time.report.schemas import (
    DEFAULT_COUNTED_STATUSES,
    DEFAULT_OVER_BOOKED_ABOVE,
    DEFAULT_UNDER_BOOKED_BELOW,
    EntryStatus,
    UtilizationGroup,
    UtilizationReport,
)
from agencyos.time.report.service import MAX_RANGE_DAYS, Thresholds, report_service

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get(
    "/utilization",
    response_model=UtilizationReport,
    summary="Utilization: logged and billable hours against capacity",
    description=(
        "For entries dated `from`..`to` (inclusive, at most "
        f"{MAX_RANGE_DAYS} days): per person (`group_by=member`, the default) logged, billable "
        "and capacity hours, utilization % (logged / capacity) and billable utilization % "
        "(billable / capacity), and whether they are over-booked (utilization above "
        "`over_threshold`, default 100 %) or under-booked (below `under_threshold`, default "
        "70 %). Capacity hours = weekly capacity (`/v1/capacity`) x working days (Monday to "
        "Friday) in the range / 5, for people active now; someone suspended or removed who "
        "logged time is listed with no capacity and never flagged. `totals` is capacity-"
        "weighted over the people listed: the agency average when the report covers the "
        "team. `group_by=project` lists logged and billable hours per project instead (same "
        "`totals`).\n\n"
        "Entries counted: every status but `rejected` unless `status` names others "
        "(repeatable). Managers and above (`timesheets.approve`) see everyone, or one person "
        "with `user_id`; anyone else sees only themselves (asking for someone else is a 403)."
    ),
    responses={
        403: {"description": "Someone else's utilization without `timesheets.approve`"},
        404: {"description": "`user_id` is not a team member of your agency"},
        422: {"description": "Missing or malformed dates, `to` before `from`, range too long"},
    },
)
async def utilization_report(
    principal: CurrentPrincipal,
    session: TenantSession,
    request: Request,
    from_: Annotated[IsoDate, Query(alias="from", description="First day (ISO date)")],
    to: Annotated[IsoDate, Query(description="Last day, included (ISO date)")],
    group_by: UtilizationGroup = UtilizationGroup.MEMBER,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Only this person (yours without an approver role)")
    ] = None,
    status: Annotated[
        list[EntryStatus] | None,
        Query(description="Entry statuses to count (default: all but rejected)"),
    ] = None,
    over_threshold: Annotated[
        float, Query(ge=0, le=1000, description="Over-booked above this utilization %")
    ] = DEFAULT_OVER_BOOKED_ABOVE,
    under_threshold: Annotated[
        float, Query(ge=0, le=1000, description="Under-booked below this utilization %")
    ] = DEFAULT_UNDER_BOOKED_BELOW,
) -> UtilizationReport:
    statuses = [s.value for s in dict.fromkeys(status or DEFAULT_COUNTED_STATUSES)]
    return await report_service.utilization(
        session,
        principal,
        Peers.of(request),
        start=from_,
        end=to,
        group_by=group_by,
        user_id=user_id,
        statuses=statuses,
        thresholds=Thresholds(over=over_threshold, under=under_threshold),
    )
