"""A week's timesheet through the real gateway publishes each step on Kafka: submitted,
rejected (with the reason), submitted again and approved. The rules of the week view,
submitting, approving and rejecting (and the events each writes to the outbox) are tested
in-process: tests/inprocess/timesheet/."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.platform import Platform
from agencyos.testing.timesheets import (
    HOUR,
    MONDAY,
    Team,
    act,
    new_team,
    seed,
    submitted_sheet,
    time_events,
)


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    return await new_team(platform, gateway, agency)


class TestPublishing:
    async def test_each_step_of_a_week_is_published_on_kafka(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(platform, gateway, team.member, team.project)
        rejected = await act(gateway, team.manager, sheet["id"], "reject", {"reason": "Tuesday"})
        assert rejected.status_code == 200, rejected.text
        await seed(platform, team.member, team.project, MONDAY + timedelta(days=2), 1)
        assert (await act(gateway, team.member, sheet["id"], "submit")).status_code == 200
        approved = await act(gateway, team.manager, sheet["id"], "approve")
        assert approved.status_code == 200, approved.text

        submitted = await time_events(
            platform, team.member, "time.timesheet.submitted", sheet["id"], 2
        )
        [rejection] = await time_events(
            platform, team.member, "time.timesheet.rejected", sheet["id"]
        )
        [approval] = await time_events(
            platform, team.member, "time.timesheet.approved", sheet["id"]
        )
        assert [e["data"]["total_seconds"] for e in submitted] == [5 * HOUR, 6 * HOUR]
        assert rejection["data"]["reason"] == "Tuesday"
        assert approval["data"]["approved_by"] == str(team.manager.user_id)
        assert len(approval["data"]["entry_ids"]) == 3
