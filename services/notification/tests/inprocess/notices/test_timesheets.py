"""Timesheet notices: a submitted week tells those who approve timesheets (never the
submitter); an approved or rejected week tells its owner."""

from __future__ import annotations

import uuid
from datetime import date

from agencyos.common.events import (
    CloudEvent,
    TimesheetApproved,
    TimesheetRejected,
    TimesheetSubmitted,
)
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import Cast, deliver, emailed, event_of, join, notices_of, told

WEEK = date(2026, 11, 30)


def submitted(people: Cast, owner: Caller) -> CloudEvent:
    return event_of(
        TimesheetSubmitted(
            timesheet_id=uuid.uuid4(),
            user_id=owner.user_id,
            week_start=WEEK,
            total_seconds=40 * 3600,
            billable_seconds=30 * 3600 + 1800,
        ),
        people.agency.id,
    )


class TestTimesheetSubmitted:
    async def test_the_approvers_are_told_but_not_the_submitter(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = submitted(people, people.member)

        await deliver(in_process, event)

        # owner and manager approve timesheets by their roles' defaults
        assert people.names(await told(in_process, event, "timesheet.submitted")) == {
            "owner",
            "manager",
        }
        [note] = await notices_of(in_process, people.manager, "timesheet.submitted")
        assert note["title"] == (
            "Ada Lovelace submitted their timesheet for the week of 2026-11-30"
        )
        assert note["body"] == "40 h logged, 30.5 h billable."
        assert note["link"] == f"/v1/timesheets/{event.data['timesheet_id']}"

    async def test_an_approver_who_submits_their_own_week_is_not_told_of_it(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = submitted(people, people.manager)

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "timesheet.submitted")) == {"owner"}

    async def test_a_member_granted_approval_is_told_and_a_suspended_one_is_not(
        self, in_process: InProcess, people: Cast
    ) -> None:
        from agencyos.testing.notices import suspended

        granted = await join(
            in_process, people.agency, "member", permissions=["timesheets.approve"]
        )
        on_leave = await join(in_process, people.agency, "admin")
        await deliver(in_process, suspended(on_leave))
        event = submitted(people, people.member)

        await deliver(in_process, event)

        told_ids = await told(in_process, event, "timesheet.submitted")
        assert granted.user_id in told_ids
        assert on_leave.user_id not in told_ids
        assert people.stranger.user_id not in told_ids


class TestTimesheetAnswered:
    async def test_an_approved_week_tells_its_owner(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = event_of(
            TimesheetApproved(
                timesheet_id=uuid.uuid4(),
                user_id=people.member.user_id,
                week_start=WEEK,
                approved_by=people.manager.user_id,
                entry_ids=[],
                total_seconds=3600,
                billable_seconds=0,
            ),
            people.agency.id,
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "timesheet.approved")) == {"member"}

    async def test_a_rejected_week_tells_its_owner_why_and_emails_them(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = event_of(
            TimesheetRejected(
                timesheet_id=uuid.uuid4(),
                user_id=people.member.user_id,
                week_start=WEEK,
                rejected_by=people.manager.user_id,
                reason="Tuesday is missing",
            ),
            people.agency.id,
        )

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "timesheet.rejected")
        assert note["title"] == "Your timesheet for the week of 2026-11-30 was sent back"
        assert note["body"] == "Mona Manager: Tuesday is missing"
        [email] = await emailed(in_process, event)
        assert (email["template"], email["user_id"]) == (
            "timesheet_rejected",
            people.member.user_id,
        )
        assert "Tuesday is missing" in email["text"]
