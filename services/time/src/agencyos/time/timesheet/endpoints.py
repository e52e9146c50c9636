import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import CurrentPrincipal, TenantSession
from agencyos.time.entry.permissions import TimeWrite
from agencyos.time.peers import Peers
from agencyos.time.timesheet.permissions import TimesheetsApprove
from agencyos.time.timesheet.schemas import (
    IsoWeek,
    Timesheet,
    TimesheetRejection,
    TimesheetSort,
    TimesheetStatus,
    TimesheetSummary,
    make_totals,
    summary_out,
    timesheet_out,
)
from agencyos.time.timesheet.service import TimesheetView, timesheet_service
from agencyos.time.timesheet.week import parse_iso_week

router = APIRouter(prefix="/v1/timesheets", tags=["timesheets"])

_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such timesheet that you can see (yours, or anyone's for approvers)"}
}
_DECISION_403: dict[int | str, dict[str, Any]] = {
    403: {
        "description": (
            "Without `timesheets.approve`, or your own timesheet and you are not an owner or admin"
        )
    }
}


def _out(view: TimesheetView) -> Timesheet:
    return timesheet_out(view.sheet, view.entries)


@router.get(
    "",
    response_model=Timesheet | Page[TimesheetSummary],
    summary="A week's timesheet, or a list of timesheets",
    description=(
        "**With `week`** (ISO week, `2026-W47`): that week's timesheet of `user_id` (default: "
        "you), created `open` if it does not exist yet, with its entries, a total per day "
        "(Monday to Sunday) and per project, and billable vs non-billable seconds and hours. "
        "Someone else's needs `timesheets.approve`. A week the year does not have "
        "(`2026-W54`, `2025-W53`) or anything not shaped `YYYY-Www` is a 422.\n\n"
        "**Without `week`**: a page of existing timesheets with their totals (no entries). "
        "Approvers (`timesheets.approve`) see everyone's and may filter by `user_id`; anyone "
        "else sees their own. Filter by `status` and by a range of weeks (`week_from`, "
        "`week_to`, inclusive); sort by `week_start` (default `-week_start`, newest first) "
        "or `submitted_at` — the approval queue is `?status=submitted&sort=submitted_at`, "
        "oldest first. `status` and `sort` apply only to the list."
    ),
    responses={
        403: {
            "description": (
                "Someone else's timesheet(s) without `timesheets.approve`, or no `time.write`"
            )
        },
        404: {"description": "`user_id` is not a team member of your agency"},
        422: {"description": "A malformed parameter, e.g. a week that does not exist"},
    },
)
async def get_or_list_timesheets(
    principal: CurrentPrincipal,
    session: TenantSession,
    pagination: Pagination,
    request: Request,
    week: Annotated[
        IsoWeek | None,
        Query(description="ISO week, e.g. 2026-W47: answer that one timesheet"),
    ] = None,
    user_id: Annotated[
        uuid.UUID | None, Query(description="Whose timesheet(s); default: yours (approvers: all)")
    ] = None,
    status: Annotated[TimesheetStatus | None, Query(description="List filter")] = None,
    week_from: Annotated[IsoWeek | None, Query(description="List: weeks from this one")] = None,
    week_to: Annotated[IsoWeek | None, Query(description="List: weeks up to this one")] = None,
    sort: Annotated[TimesheetSort, Query(description="List order")] = TimesheetSort.WEEK_START_DESC,
) -> Timesheet | Page[TimesheetSummary]:
    if week is not None:
        view = await timesheet_service.week(
            session, principal, Peers.of(request), user_id=user_id, monday=parse_iso_week(week)
        )
        return _out(view)
    rows, total = await timesheet_service.list_timesheets(
        session,
        principal,
        pagination,
        user_id=user_id,
        status=status.value if status else None,
        week_from=parse_iso_week(week_from) if week_from else None,
        week_to=parse_iso_week(week_to) if week_to else None,
        sort=sort.value,
    )
    items = [
        summary_out(sheet, make_totals(sums.entry_count, sums.total_seconds, sums.billable_seconds))
        for sheet, sums in rows
    ]
    return pagination.page_of(items, total)


@router.get(
    "/{timesheet_id}",
    response_model=Timesheet,
    summary="Get a timesheet",
    description="Yours, or anyone's with `timesheets.approve`; with entries and totals.",
    responses=_404,
)
async def get_timesheet(
    timesheet_id: uuid.UUID, principal: CurrentPrincipal, session: TenantSession
) -> Timesheet:
    return _out(await timesheet_service.get(session, principal, timesheet_id))


@router.post(
    "/{timesheet_id}/submit",
    response_model=Timesheet,
    summary="Submit your week for approval",
    description=(
        "Only the timesheet's owner. The week's `draft` and `rejected` entries become "
        "`submitted` (each change in the entry audit trail) and the timesheet `submitted`; "
        "from then on the week's entries cannot be created, edited or deleted (409) until an "
        "approver rejects it. Publishes `time.timesheet.submitted`. An `open` or `rejected` "
        "timesheet can be submitted; one with nothing to submit (an empty week) answers 409, "
        "as does a week while your timer started in it is still running."
    ),
    responses={
        403: {"description": "Not your timesheet, or no `time.write`"},
        **_404,
        409: {
            "description": (
                "Already submitted or approved, nothing to submit, or a timer still running"
            )
        },
    },
)
async def submit_timesheet(
    timesheet_id: uuid.UUID, principal: TimeWrite, session: TenantSession, request: Request
) -> Timesheet:
    view = await timesheet_service.submit(session, principal, Peers.of(request), timesheet_id)
    return _out(view)


@router.post(
    "/{timesheet_id}/approve",
    response_model=Timesheet,
    summary="Approve a submitted timesheet",
    description=(
        "Needs `timesheets.approve`. Owners and admins may approve their own timesheet; "
        "managers may not. The submitted entries become `approved` with their billable rate, "
        "cost rate and the project's currency frozen on them (as they resolve on each "
        "entry's day), so a later rate change never rewrites approved time. Approval is "
        "final. Publishes `time.timesheet.approved` with the entry ids and totals; billable "
        "approved entries can then be invoiced."
    ),
    responses={
        **_DECISION_403,
        **_404,
        409: {"description": "The timesheet is not `submitted` (e.g. already approved)"},
    },
)
async def approve_timesheet(
    timesheet_id: uuid.UUID,
    principal: TimesheetsApprove,
    session: TenantSession,
    request: Request,
) -> Timesheet:
    view = await timesheet_service.approve(session, principal, Peers.of(request), timesheet_id)
    return _out(view)


@router.post(
    "/{timesheet_id}/reject",
    response_model=Timesheet,
    summary="Reject a submitted timesheet",
    description=(
        "Needs `timesheets.approve` (the same own-timesheet rule as approving) and a "
        "`reason`. The submitted entries become `rejected` and the week unlocks: its owner "
        "fixes the entries and submits again. Approvers never edit entries themselves. "
        "Publishes `time.timesheet.rejected` with the reason."
    ),
    responses={
        **_DECISION_403,
        **_404,
        409: {"description": "The timesheet is not `submitted`"},
        422: {"description": "No reason, or an empty one"},
    },
)
async def reject_timesheet(
    timesheet_id: uuid.UUID,
    body: TimesheetRejection,
    principal: TimesheetsApprove,
    session: TenantSession,
) -> Timesheet:
    view = await timesheet_service.reject(session, principal, timesheet_id, body.reason)
    return _out(view)
