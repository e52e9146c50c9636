"""The week view and list of timesheets (`timesheet/service.py`, `timesheet/week.py`): a week
created open on first look with daily, per-project and billable totals, strict ISO weeks, who
sees whose week (members their own, approvers anyone's in the agency, nobody another agency's),
and the approvers' queue with filters and sorting. Entries are seeded straight into time's
database (its constraints applied)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.platform import Platform
from agencyos.testing.timesheets import (
    HOUR,
    MONDAY,
    WEEK,
    Team,
    act,
    seed,
    submitted_sheet,
    week_of,
)


def new_project(
    in_process: InProcess, agency: Agency, *members: Caller, **fields: Any
) -> dict[str, Any]:
    """A project of `agency` on the work stand-in, with `members` and its owner (the creator
    is a member, as in work), shaped like work's API answer (`id`, `currency`)."""
    project_id = in_process.standins.work.add_project(
        agency.id, agency.owner.user_id, *(m.user_id for m in members), **fields
    )
    project = in_process.standins.work.projects[(agency.id, project_id)]
    return {"id": project.id, "currency": project.currency}


class TestWeekView:
    async def test_a_week_is_created_open_with_daily_project_and_billable_totals(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        other_project = new_project(in_process, tenant, team.member)
        a = await seed(time_store, team.member, team.project, MONDAY, 2)
        b = await seed(time_store, team.member, other_project, MONDAY, 1, is_billable=False)
        c = await seed(time_store, team.member, team.project, MONDAY + timedelta(days=2), 3.5)
        # the Sunday before and the Monday after belong to other weeks
        await seed(time_store, team.member, team.project, MONDAY - timedelta(days=1), 4)
        await seed(time_store, team.member, team.project, MONDAY + timedelta(days=7), 4)

        sheet = await week_of(time_api, team.member)

        assert sheet["status"] == "open"
        assert sheet["user_id"] == str(team.member.user_id)
        assert (sheet["week"], sheet["week_start"], sheet["week_end"]) == (
            WEEK,
            "2026-09-07",
            "2026-09-13",
        )
        assert sheet["totals"] == {
            "entry_count": 3,
            "total_seconds": int(6.5 * HOUR),
            "billable_seconds": int(5.5 * HOUR),
            "non_billable_seconds": HOUR,
            "total_hours": 6.5,
            "billable_hours": 5.5,
            "non_billable_hours": 1.0,
        }
        days = {d["date"]: (d["total_seconds"], d["billable_seconds"]) for d in sheet["days"]}
        assert list(days) == [(MONDAY + timedelta(days=n)).isoformat() for n in range(7)]
        assert days["2026-09-07"] == (3 * HOUR, 2 * HOUR)
        assert days["2026-09-09"] == (int(3.5 * HOUR), int(3.5 * HOUR))
        assert sum(total for total, _ in days.values()) == int(6.5 * HOUR)
        assert [
            (p["project_id"], p["total_seconds"], p["non_billable_hours"])
            for p in sheet["projects"]
        ] == [
            (team.project["id"], int(5.5 * HOUR), 0.0),
            (other_project["id"], HOUR, 1.0),
        ]
        assert {e["id"] for e in sheet["entries"]} == {str(a), str(b), str(c)}
        assert [e["date"] for e in sheet["entries"]] == ["2026-09-07", "2026-09-07", "2026-09-09"]

        again = await week_of(time_api, team.member)
        assert again["id"] == sheet["id"]
        by_id = await time_api.get(f"/v1/timesheets/{sheet['id']}", headers=team.member.headers)
        assert by_id.status_code == 200, by_id.text
        assert by_id.json()["totals"] == sheet["totals"]
        assert by_id.json()["entries"] == sheet["entries"]

    @pytest.mark.parametrize(
        "week", ["2026-W54", "2025-W53", "2026-W00", "2026-47", "2026-W5", "garbage", "1969-W10"]
    )
    async def test_a_week_that_does_not_exist_is_refused(
        self, time_api: httpx.AsyncClient, agency: Caller, week: str
    ) -> None:
        response = await time_api.get(
            "/v1/timesheets", params={"week": week}, headers=agency.headers
        )
        assert_invalid_fields(response, "query.week")

    async def test_a_53rd_week_is_accepted_in_a_year_that_has_one(
        self, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        sheet = await week_of(time_api, agency, "2026-W53")
        assert (sheet["week_start"], sheet["week_end"]) == ("2026-12-28", "2027-01-03")

    async def test_a_member_cannot_see_someone_elses_week(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        response = await time_api.get(
            "/v1/timesheets",
            params={"week": WEEK, "user_id": str(team.manager.user_id)},
            headers=team.member.headers,
        )
        assert_problem(response, 403, "permission-denied")
        managers = await week_of(time_api, team.manager)
        by_id = await time_api.get(f"/v1/timesheets/{managers['id']}", headers=team.member.headers)
        assert_problem(by_id, 404, "not-found")

    async def test_an_approver_sees_a_members_week(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await seed(time_store, team.member, team.project, MONDAY, 2)
        sheet = await week_of(time_api, team.manager, user=team.member)
        assert sheet["user_id"] == str(team.member.user_id)
        assert sheet["totals"]["total_seconds"] == 2 * HOUR
        assert sheet["id"] == (await week_of(time_api, team.member))["id"]

    async def test_an_approver_asking_for_a_stranger_gets_404(
        self, time_api: httpx.AsyncClient, team: Team, other_agency: Caller
    ) -> None:
        for stranger in (uuid.uuid4(), other_agency.user_id):
            response = await time_api.get(
                "/v1/timesheets",
                params={"week": WEEK, "user_id": str(stranger)},
                headers=team.manager.headers,
            )
            assert_problem(response, 404, "not-found")

    async def test_another_agencys_timesheet_answers_404_everywhere(
        self,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
        other_agency: Caller,
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        sheet_id = sheet["id"]
        get = await time_api.get(f"/v1/timesheets/{sheet_id}", headers=other_agency.headers)
        assert_problem(get, 404, "not-found")
        for action, body in (("approve", None), ("reject", {"reason": "no"}), ("submit", None)):
            response = await act(time_api, other_agency, sheet_id, action, body)
            assert_problem(response, 404, "not-found")
        listed = await time_api.get("/v1/timesheets", headers=other_agency.headers)
        assert sheet_id not in {s["id"] for s in listed.json()["items"]}
        assert (await week_of(time_api, team.manager, user=team.member))["status"] == "submitted"


class TestListing:
    async def test_the_approval_queue_lists_submitted_timesheets_with_totals(
        self,
        in_process: InProcess,
        other_tenant: Agency,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
        other_agency: Caller,
    ) -> None:
        first = await submitted_sheet(time_store, time_api, team.member, team.project)
        second = await submitted_sheet(time_store, time_api, team.manager, team.project)
        await week_of(time_api, team.owner)  # open, not in the queue
        other_project = new_project(in_process, other_tenant)
        await submitted_sheet(time_store, time_api, other_agency, other_project)

        response = await time_api.get(
            "/v1/timesheets",
            params={"status": "submitted", "sort": "submitted_at"},
            headers=team.manager.headers,
        )
        assert response.status_code == 200, response.text
        page = response.json()
        assert [s["id"] for s in page["items"]] == [first["id"], second["id"]]
        assert page["total"] == 2
        assert page["items"][0]["totals"]["total_seconds"] == 5 * HOUR
        assert page["items"][0]["totals"]["billable_seconds"] == 2 * HOUR
        assert "entries" not in page["items"][0]

        one = await time_api.get(
            "/v1/timesheets",
            params={"user_id": str(team.manager.user_id), "week_from": WEEK, "week_to": WEEK},
            headers=team.owner.headers,
        )
        assert [s["id"] for s in one.json()["items"]] == [second["id"]]

    async def test_a_member_lists_only_their_own(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        mine = await submitted_sheet(time_store, time_api, team.member, team.project)
        await submitted_sheet(time_store, time_api, team.manager, team.project)
        response = await time_api.get("/v1/timesheets", headers=team.member.headers)
        assert [s["id"] for s in response.json()["items"]] == [mine["id"]]
        theirs = await time_api.get(
            "/v1/timesheets",
            params={"user_id": str(team.manager.user_id)},
            headers=team.member.headers,
        )
        assert_problem(theirs, 403, "permission-denied")
