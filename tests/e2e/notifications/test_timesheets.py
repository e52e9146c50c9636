"""Timesheet notices through the whole platform: time logged and a week submitted, approved
and sent back through time's API; those who approve timesheets hear of a submitted week (never
the one who submitted it), its owner hears it was approved or sent back (the latter by email
too), and every link opens the timesheet through the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, add_member, new_project
from agencyos.testing.inbox import link_to, notices_about, one_email, open_link, wait_for_notice
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


def last_monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday() + 7)


def name_of(who: AgencySession) -> str:
    """The name `add_member` gave them ("Manager <tag>" for manager-<tag>@...)."""
    role, tag = who.email.split("@")[0].split("-", 1)
    return f"{role.title()} {tag}"


async def submitted_week(
    gateway: httpx.AsyncClient, who: AgencySession, project: dict[str, Any], hours: int
) -> dict[str, Any]:
    """`who` logs `hours` on last week's Monday and submits that week."""
    monday = last_monday()
    started = datetime(monday.year, monday.month, monday.day, 9, tzinfo=UTC)
    logged = await gateway.post(
        "/v1/time-entries",
        json={
            "project_id": project["id"],
            "started_at": started.isoformat(),
            "ended_at": (started + timedelta(hours=hours)).isoformat(),
            "description": "Design review",
        },
        headers=who.headers,
    )
    assert logged.status_code == 201, logged.text
    week = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
    sheet = await gateway.get("/v1/timesheets", params={"week": week}, headers=who.headers)
    assert sheet.status_code == 200, sheet.text
    submitted = await act(gateway, who, sheet.json()["id"], "submit")
    return submitted


async def act(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    sheet_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await gateway.post(
        f"/v1/timesheets/{sheet_id}/{action}", json=body, headers=who.headers
    )
    assert response.status_code == 200, response.text
    sheet: dict[str, Any] = response.json()
    return sheet


def of_sheet(sheet: dict[str, Any]) -> Any:
    return lambda n: n["data"]["timesheet_id"] == sheet["id"]


class TestTimesheets:
    async def test_approvers_hear_of_a_submitted_week_and_its_owner_of_the_verdict(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        submitter = await add_member(platform, gateway, agency, "manager")
        approver = await add_member(platform, gateway, agency, "manager")
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, submitter, approver, member)
        week = f"the week of {last_monday().isoformat()}"

        sheet = await submitted_week(gateway, submitter, project, hours=3)

        # everyone holding timesheets.approve hears (the owner, the other manager)...
        for reader in (agency, approver):
            notice = await wait_for_notice(gateway, reader, "timesheet.submitted", of_sheet(sheet))
            assert notice["title"] == f"{name_of(submitter)} submitted their timesheet for {week}"
            assert notice["body"].startswith("3 h logged, ")
            opened = await open_link(gateway, notice["link"], reader)
            assert opened.status_code == 200, opened.text
            assert (opened.json()["id"], opened.json()["status"]) == (sheet["id"], "submitted")
        # ...and the submitter's own week makes no email by default
        assert [m for m in await mailpit.messages_to(approver.email) if week in m.subject] == []

        approved = await act(gateway, agency, sheet["id"], "approve")
        member_sheet = await submitted_week(gateway, member, project, hours=2)
        rejected = await act(
            gateway, approver, member_sheet["id"], "reject", {"reason": "Monday looks short"}
        )

        told = await wait_for_notice(gateway, submitter, "timesheet.approved", of_sheet(sheet))
        assert told["title"] == f"Your timesheet for {week} was approved"
        assert told["actor_id"] == str(agency.user_id)
        assert (await open_link(gateway, told["link"], submitter)).json()["status"] == "approved"
        assert approved["status"] == "approved"

        sent_back = await wait_for_notice(
            gateway, member, "timesheet.rejected", of_sheet(member_sheet)
        )
        assert sent_back["title"] == f"Your timesheet for {week} was sent back"
        assert sent_back["body"] == f"{name_of(approver)}: Monday looks short"
        message = await one_email(mailpit, member.email, "was sent back")
        assert message.to == [member.email]
        assert "Monday looks short" in message.text
        assert name_of(approver) in message.text
        path = link_to(platform, message, f"/v1/timesheets/{member_sheet['id']}")
        opened = await open_link(gateway, path, member)
        assert opened.status_code == 200, opened.text
        assert (opened.json()["status"], rejected["status"]) == ("rejected", "rejected")

        # the member's week was submitted after the manager's: once the approvers heard of it,
        # the manager's submission was handled long before; nobody else heard of it
        await wait_for_notice(gateway, agency, "timesheet.submitted", of_sheet(member_sheet))
        for other in (submitter, member):
            assert (
                await notices_about(
                    gateway, other, "timesheet.submitted", "timesheet_id", sheet["id"]
                )
                == []
            )
        # the member (no timesheets.approve) never hears of anyone's submission
        assert (
            await notices_about(
                gateway, member, "timesheet.submitted", "timesheet_id", member_sheet["id"]
            )
            == []
        )
        for other in (agency, approver, member):
            assert (
                await notices_about(
                    gateway, other, "timesheet.approved", "timesheet_id", sheet["id"]
                )
                == []
            )
        for other in (agency, approver, submitter):
            assert (
                await notices_about(
                    gateway, other, "timesheet.rejected", "timesheet_id", member_sheet["id"]
                )
                == []
            )
