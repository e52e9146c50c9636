"""Changing time entries through the real gateway: editing and deleting only one's own draft
or rejected entries, the audit trail of each change, and the CSV export with its formula
guard."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import (
    AgencySession,
    new_project,
    new_task,
    seed_time_entry,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.platform import Platform
from agencyos.testing.time_entries import (
    HOUR,
    LAST_WEEK,
    YESTERDAY,
    Team,
    at,
    entry_in_status,
    history,
    hour_on,
    listing,
    logged,
    new_team,
    rows_of,
)


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    return await new_team(platform, gateway, agency)


class TestEditing:
    async def test_the_author_edits_a_draft_and_the_trail_has_old_and_new(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        response = await gateway.patch(
            f"/v1/time-entries/{entry['id']}",
            json={
                "description": "Wireframes, round two",
                "started_at": at(YESTERDAY, 9, 15),
                "is_billable": False,
            },
            headers=team.member.headers,
        )

        assert response.status_code == 200, response.text
        edited = response.json()
        assert edited["description"] == "Wireframes, round two"
        assert edited["duration_seconds"] == 45 * 60
        assert edited["is_billable"] is False
        assert edited["version"] == 2
        created, updated = await history(gateway, team.member, entry["id"])
        assert created["action"] == "created"
        assert updated["action"] == "updated"
        assert updated["actor_id"] == str(team.member.user_id)
        assert updated["changes"]["duration_seconds"] == {"old": HOUR, "new": 45 * 60}
        assert updated["changes"]["is_billable"] == {"old": True, "new": False}
        assert set(updated["changes"]) == {
            "description",
            "started_at",
            "duration_seconds",
            "is_billable",
        }

    async def test_a_timed_entry_becomes_a_duration_and_back(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        as_duration = await gateway.patch(
            path,
            json={"started_at": None, "ended_at": None, "duration_seconds": 1800},
            headers=team.member.headers,
        )
        as_interval = await gateway.patch(
            path,
            json={"started_at": at(LAST_WEEK, 14), "ended_at": at(LAST_WEEK, 16)},
            headers=team.member.headers,
        )

        assert as_duration.status_code == 200, as_duration.text
        assert as_duration.json()["started_at"] is None
        assert as_duration.json()["duration_seconds"] == 1800
        assert as_interval.status_code == 200, as_interval.text
        assert as_interval.json()["date"] == LAST_WEEK.isoformat()
        assert as_interval.json()["duration_seconds"] == 2 * HOUR

    async def test_moving_to_another_project_takes_its_client_and_checks_the_task(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        task = await new_task(gateway, team.owner, team.project["id"])
        entry = await hour_on(gateway, team.member, team.project, task_id=task["id"])
        other = await new_project(gateway, team.owner, team.member, status="active")
        path = f"/v1/time-entries/{entry['id']}"

        keeps_task = await gateway.patch(
            path, json={"project_id": other["id"]}, headers=team.member.headers
        )
        moved = await gateway.patch(
            path, json={"project_id": other["id"], "task_id": None}, headers=team.member.headers
        )

        assert_invalid_fields(keeps_task, "task_id")
        assert moved.status_code == 200, moved.text
        assert moved.json()["project_id"] == other["id"]
        assert moved.json()["task_id"] is None
        assert moved.json()["client_id"] is None

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"duration_seconds": 60}, "duration_seconds"),
            ({"date": LAST_WEEK.isoformat()}, "date"),
            ({"ended_at": None}, "ended_at"),
            ({"description": None}, "description"),
            ({"project_id": None}, "project_id"),
            ({"status": "approved"}, "status"),
            ({"user_id": str(uuid.uuid4())}, "user_id"),
        ],
    )
    async def test_bad_edits_are_refused_naming_the_field(
        self, gateway: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        response = await gateway.patch(
            f"/v1/time-entries/{entry['id']}", json=body, headers=team.member.headers
        )

        assert_invalid_fields(response, field)

    async def test_nobody_else_edits_or_deletes_an_entry_not_even_a_manager(
        self, gateway: httpx.AsyncClient, team: Team, other_agency: AgencySession
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        for verb in ("patch", "delete"):
            kwargs: dict[str, Any] = (
                {"json": {"description": "mine now"}} if verb == "patch" else {}
            )
            by_manager = await gateway.request(verb, path, headers=team.manager.headers, **kwargs)
            by_owner = await gateway.request(verb, path, headers=team.owner.headers, **kwargs)
            by_colleague = await gateway.request(
                verb, path, headers=team.colleague.headers, **kwargs
            )
            by_stranger = await gateway.request(verb, path, headers=other_agency.headers, **kwargs)
            assert_problem(by_manager, 403, "permission-denied")
            assert_problem(by_owner, 403, "permission-denied")
            assert_problem(by_colleague, 404, "not-found")
            assert_problem(by_stranger, 404, "not-found")

        unchanged = await gateway.get(path, headers=team.member.headers)
        assert unchanged.json() == entry

    @pytest.mark.parametrize("status", ["submitted", "approved", "invoiced"])
    async def test_an_entry_past_draft_is_locked_naming_its_status(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team, status: str
    ) -> None:
        entry_id = await entry_in_status(platform, team, status)
        path = f"/v1/time-entries/{entry_id}"

        edited = await gateway.patch(
            path, json={"description": "later"}, headers=team.member.headers
        )
        deleted = await gateway.delete(path, headers=team.member.headers)

        for response in (edited, deleted):
            body = assert_problem(response, 409, "conflict")
            assert body["entry_status"] == status
            assert status in body["detail"]
        still = await gateway.get(path, headers=team.member.headers)
        assert (still.json()["status"], still.json()["version"]) == (status, 1)

    async def test_a_rejected_entry_may_be_fixed_and_deleted(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry_id = await seed_time_entry(
            platform,
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=LAST_WEEK,
            duration_seconds=HOUR,
            status="rejected",
        )
        path = f"/v1/time-entries/{entry_id}"

        edited = await gateway.patch(
            path, json={"duration_seconds": 1800}, headers=team.member.headers
        )
        deleted = await gateway.delete(path, headers=team.member.headers)

        assert edited.status_code == 200, edited.text
        assert edited.json()["duration_seconds"] == 1800
        assert deleted.status_code == 204, deleted.text


class TestDeleting:
    async def test_the_author_deletes_a_draft_and_its_trail_stays_readable(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        response = await gateway.delete(path, headers=team.member.headers)

        assert response.status_code == 204, response.text
        assert_problem(await gateway.get(path, headers=team.member.headers), 404, "not-found")
        created, deleted = await history(gateway, team.member, entry["id"])
        assert (created["action"], deleted["action"]) == ("created", "deleted")
        assert deleted["changes"]["duration_seconds"] == {"old": HOUR, "new": None}
        assert len(await history(gateway, team.manager, entry["id"])) == 2
        trail = await gateway.get(f"{path}/history", headers=team.colleague.headers)
        assert_problem(trail, 404, "not-found")
        assert (await listing(gateway, team.member))["total"] == 0


# --- export -----------------------------------------------------------------------------------


class TestExport:
    async def test_entries_export_as_csv_with_names_and_hours(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        task = await new_task(gateway, team.owner, team.project["id"], title="Landing page")
        entry = await logged(
            gateway,
            team.member,
            project_id=team.project["id"],
            task_id=task["id"],
            started_at=at(YESTERDAY, 9),
            ended_at=at(YESTERDAY, 10, 20),
            description="Hero section",
        )

        response = await gateway.get("/v1/time-entries/export", headers=team.member.headers)

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
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        for hour, text in (
            (8, '=HYPERLINK("http://evil.example","x")'),
            (10, "+1"),
            (12, "@SUM(A1)"),
            (14, "-2"),
            (16, "plain"),
        ):
            await hour_on(gateway, team.member, team.project, hour=hour, description=text)

        response = await gateway.get(
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
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        mine = await hour_on(gateway, team.member, team.project)
        theirs = await hour_on(gateway, team.colleague, team.project)
        await hour_on(gateway, team.member, team.project, day=LAST_WEEK)

        members = rows_of(
            await gateway.get(
                "/v1/time-entries/export",
                params={"date_from": YESTERDAY.isoformat()},
                headers=team.member.headers,
            )
        )
        managers = rows_of(
            await gateway.get(
                "/v1/time-entries/export",
                params={"date_from": YESTERDAY.isoformat()},
                headers=team.manager.headers,
            )
        )
        refused = await gateway.get(
            "/v1/time-entries/export",
            params={"user_id": str(team.colleague.user_id)},
            headers=team.member.headers,
        )

        assert [r["id"] for r in members] == [mine["id"]]
        assert {r["id"] for r in managers} == {mine["id"], theirs["id"]}
        assert_problem(refused, 403, "permission-denied")
