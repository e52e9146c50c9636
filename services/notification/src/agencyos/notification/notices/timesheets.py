"""Notices about timesheets: one submitted (to those who approve timesheets, never the
submitter), approved or sent back (to its owner)."""

from __future__ import annotations

import uuid
from datetime import date

from agencyos.common.events import TimesheetApproved, TimesheetRejected, TimesheetSubmitted
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import holders, is_staff

APPROVE = "timesheets.approve"


def timesheet_link(timesheet_id: uuid.UUID) -> str:
    return f"/v1/timesheets/{timesheet_id}"


def week_of(week_start: date) -> str:
    return f"the week of {week_start.isoformat()}"


def hours(seconds: int) -> str:
    return f"{seconds / 3600:.2f}".rstrip("0").rstrip(".") + " h"


def _data(timesheet_id: uuid.UUID, user_id: uuid.UUID, week_start: date) -> dict[str, str]:
    return {
        "timesheet_id": str(timesheet_id),
        "user_id": str(user_id),
        "week_start": week_start.isoformat(),
    }


async def timesheet_submitted(telling: Telling) -> None:
    payload = telling.event.payload(TimesheetSubmitted)
    kind = KINDS["timesheet.submitted"]
    who = await telling.name_of(payload.user_id) or "Someone"
    notice = Notice(
        kind=kind.name,
        title=f"{who} submitted their timesheet for {week_of(payload.week_start)}",
        body=(
            f"{hours(payload.total_seconds)} logged, {hours(payload.billable_seconds)} billable."
        ),
        link=timesheet_link(payload.timesheet_id),
        link_label="Review the timesheet",
        subject=f"timesheets/{payload.timesheet_id}",
        data=_data(payload.timesheet_id, payload.user_id, payload.week_start),
        actor_id=payload.user_id,
    )
    await telling.tell(notice, holders(APPROVE, await telling.holding(APPROVE), kind))


async def timesheet_approved(telling: Telling) -> None:
    payload = telling.event.payload(TimesheetApproved)
    by = await telling.name_of(payload.approved_by)
    notice = Notice(
        kind="timesheet.approved",
        title=f"Your timesheet for {week_of(payload.week_start)} was approved",
        body=f"Approved by {by}." if by else "",
        link=timesheet_link(payload.timesheet_id),
        link_label="Open the timesheet",
        subject=f"timesheets/{payload.timesheet_id}",
        data=_data(payload.timesheet_id, payload.user_id, payload.week_start),
        actor_id=payload.approved_by,
    )
    owners = await telling.named(payload.user_id)
    await telling.tell(notice, [p for p in owners if is_staff(p)])


async def timesheet_rejected(telling: Telling) -> None:
    payload = telling.event.payload(TimesheetRejected)
    by = await telling.name_of(payload.rejected_by)
    notice = Notice(
        kind="timesheet.rejected",
        title=f"Your timesheet for {week_of(payload.week_start)} was sent back",
        body=f"{by or 'Your approver'}: {payload.reason}",
        link=timesheet_link(payload.timesheet_id),
        link_label="Fix the timesheet",
        subject=f"timesheets/{payload.timesheet_id}",
        data=_data(payload.timesheet_id, payload.user_id, payload.week_start),
        actor_id=payload.rejected_by,
        template="timesheet_rejected",
        context={
            "week_start": payload.week_start,
            "rejected_by_name": by,
            "reason": payload.reason,
        },
    )
    owners = await telling.named(payload.user_id)
    await telling.tell(notice, [p for p in owners if is_staff(p)])


BUILDERS: dict[str, Builder] = {
    TimesheetSubmitted.event_type: timesheet_submitted,
    TimesheetApproved.event_type: timesheet_approved,
    TimesheetRejected.event_type: timesheet_rejected,
}
