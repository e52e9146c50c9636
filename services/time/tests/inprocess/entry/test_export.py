"""The CSV export of time entries (`entry/export.py`) in-process: names and hours per row,
the formula guard, and the same visibility and filters as the list."""

from __future__ import annotations

import uuid

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.time_entries import (
    LAST_WEEK,
    YESTERDAY,
    Team,
    at,
    hour_on,
    logged,
    rows_of,
)


class TestExport:
    async def test_entries_export_as_csv_with_names_and_hours(
        self, time_api: httpx.AsyncClient, in_process: InProcess, tenant: Agency, team: Team
    ) -> None:
        in_process.standins.identity.add_member(
            tenant.id, team.member.user_id, role="member", name="Member Ada"
        )
        task_id = in_process.standins.work.add_task(
            tenant.id, uuid.UUID(team.project["id"]), title="Landing page"
        )
        entry = await logged(
            time_api,
            team.member,
            project_id=team.project["id"],
            task_id=str(task_id),
            started_at=at(YESTERDAY, 9),
            ended_at=at(YESTERDAY, 10, 20),
            description="Hero section",
        )

        response = await time_api.get("/v1/time-entries/export", headers=team.member.headers)

        assert "attachment" in response.headers["content-disposition"]
        [row] = rows_of(response)
        assert row["id"] == entry["id"]
        assert row["date"] == YESTERDAY.isoformat()
        assert row["user_id"] == str(team.member.user_id)
        assert row["person"].startswith("Member ")
        assert row["project"] == team.project["name"]
        assert row["task"] == "Landing page"
        assert row["client_id"] == str(team.client_id)
        assert row["started_at"] == f"{YESTERDAY.isoformat()}T09:00:00Z"
        assert row["duration_seconds"] == "4800"
        assert row["hours"] == "1.33"
        assert row["description"] == "Hero section"
        assert (row["is_billable"], row["status"], row["invoice_id"]) == ("true", "draft", "")

    async def test_cells_that_would_run_as_formulas_are_made_inert(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        for hour, text in (
            (8, '=HYPERLINK("http://evil.example","x")'),
            (10, "+1"),
            (12, "@SUM(A1)"),
            (14, "-2"),
            (16, "plain"),
        ):
            await hour_on(time_api, team.member, team.project, hour=hour, description=text)

        response = await time_api.get(
            "/v1/time-entries/export", params={"sort": "date"}, headers=team.member.headers
        )

        assert [r["description"] for r in rows_of(response)] == [
            '\'=HYPERLINK("http://evil.example","x")',
            "'+1",
            "'@SUM(A1)",
            "'-2",
            "plain",
        ]

    async def test_the_export_follows_the_same_visibility_and_filters_as_the_list(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        mine = await hour_on(time_api, team.member, team.project)
        theirs = await hour_on(time_api, team.colleague, team.project)
        await hour_on(time_api, team.member, team.project, day=LAST_WEEK)

        members = rows_of(
            await time_api.get(
                "/v1/time-entries/export",
                params={"date_from": YESTERDAY.isoformat()},
                headers=team.member.headers,
            )
        )
        managers = rows_of(
            await time_api.get(
                "/v1/time-entries/export",
                params={"date_from": YESTERDAY.isoformat()},
                headers=team.manager.headers,
            )
        )
        refused = await time_api.get(
            "/v1/time-entries/export",
            params={"user_id": str(team.colleague.user_id)},
            headers=team.member.headers,
        )

        assert [r["id"] for r in members] == [mine["id"]]
        assert {r["id"] for r in managers} == {mine["id"], theirs["id"]}
        assert_problem(refused, 403, "permission-denied")
