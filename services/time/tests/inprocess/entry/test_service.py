"""Logging, editing and deleting time entries (`entry/service.py`) in-process: intervals and
durations, the billable default and client from work's project, only one's own draft or
rejected entries changed, and the audit trail of each change. The `time.entry.logged` event
as published: the platform tier."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.time_entries import (
    HOUR,
    LAST_WEEK,
    YESTERDAY,
    Team,
    at,
    history,
    hour_on,
    listing,
    log,
    logged,
)

SeedEntry = Callable[..., Awaitable[uuid.UUID]]


def project_of(
    in_process: InProcess, tenant: Agency, *members: Caller, **fields: Any
) -> dict[str, Any]:
    """A project declared on the work stand-in, shaped like work's API answer (`id`)."""
    project_id = in_process.standins.work.add_project(
        tenant.id, *(m.user_id for m in members), **fields
    )
    return {"id": str(project_id)}


def task_of(in_process: InProcess, tenant: Agency, project: dict[str, Any], **fields: Any) -> str:
    return str(in_process.standins.work.add_task(tenant.id, uuid.UUID(project["id"]), **fields))


class TestLogging:
    async def test_an_interval_is_logged_with_its_day_duration_client_and_billable_default(
        self, time_api: httpx.AsyncClient, in_process: InProcess, tenant: Agency, team: Team
    ) -> None:
        task_id = task_of(in_process, tenant, team.project)

        response = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            task_id=task_id,
            started_at=f"{YESTERDAY.isoformat()}T09:00:00.750+00:00",
            ended_at=f"{YESTERDAY.isoformat()}T10:30:00.250+00:00",
            description="  Homepage wireframes  ",
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["split"] is False
        [entry] = body["entries"]
        assert response.headers["location"] == f"/v1/time-entries/{entry['id']}"
        assert entry["user_id"] == str(team.member.user_id)
        assert entry["project_id"] == team.project["id"]
        assert entry["task_id"] == task_id
        assert entry["client_id"] == str(team.client_id)
        assert entry["date"] == YESTERDAY.isoformat()
        # whole seconds, cut down: 09:00:00 to 10:30:00
        assert entry["started_at"].startswith(f"{YESTERDAY.isoformat()}T09:00:00")
        assert entry["ended_at"].startswith(f"{YESTERDAY.isoformat()}T10:30:00")
        assert entry["duration_seconds"] == 90 * 60
        assert entry["description"] == "Homepage wireframes"
        assert entry["is_billable"] is True  # the project is billed hourly
        assert entry["status"] == "draft"
        assert entry["invoice_id"] is None
        assert entry["version"] == 1
        assert entry["created_by"] == str(team.member.user_id)

    async def test_a_duration_is_logged_on_its_date_without_an_interval(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged(
            time_api,
            team.member,
            project_id=team.project["id"],
            date=YESTERDAY.isoformat(),
            duration_seconds=5400,
        )

        assert (entry["date"], entry["duration_seconds"]) == (YESTERDAY.isoformat(), 5400)
        assert entry["started_at"] is None
        assert entry["ended_at"] is None

    async def test_a_fixed_price_project_makes_time_non_billable_unless_said_otherwise(
        self, time_api: httpx.AsyncClient, in_process: InProcess, tenant: Agency, team: Team
    ) -> None:
        fixed = project_of(
            in_process, tenant, team.owner, team.member, billing_type="fixed", status="active"
        )

        default = await hour_on(time_api, team.member, fixed, hour=9)
        chosen = await hour_on(time_api, team.member, fixed, hour=11, is_billable=True)
        unbilled = await hour_on(time_api, team.member, team.project, hour=13, is_billable=False)

        assert default["is_billable"] is False
        assert default["client_id"] is None
        assert chosen["is_billable"] is True
        assert unbilled["is_billable"] is False

    async def test_each_write_is_in_the_audit_trail(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)

        [created] = await history(time_api, team.member, entry["id"])

        assert created["action"] == "created"
        assert created["actor_id"] == str(team.member.user_id)
        assert created["changes"]["duration_seconds"] == {"old": None, "new": HOUR}
        assert created["changes"]["status"] == {"old": None, "new": "draft"}


class TestEditing:
    async def test_the_author_edits_a_draft_and_the_trail_has_old_and_new(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)

        response = await time_api.patch(
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
        created, updated = await history(time_api, team.member, entry["id"])
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
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        as_duration = await time_api.patch(
            path,
            json={"started_at": None, "ended_at": None, "duration_seconds": 1800},
            headers=team.member.headers,
        )
        as_interval = await time_api.patch(
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
        self, time_api: httpx.AsyncClient, in_process: InProcess, tenant: Agency, team: Team
    ) -> None:
        task_id = task_of(in_process, tenant, team.project)
        entry = await hour_on(time_api, team.member, team.project, task_id=task_id)
        other = project_of(in_process, tenant, team.owner, team.member, status="active")
        path = f"/v1/time-entries/{entry['id']}"

        keeps_task = await time_api.patch(
            path, json={"project_id": other["id"]}, headers=team.member.headers
        )
        moved = await time_api.patch(
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
        self, time_api: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)

        response = await time_api.patch(
            f"/v1/time-entries/{entry['id']}", json=body, headers=team.member.headers
        )

        assert_invalid_fields(response, field)

    async def test_nobody_else_edits_or_deletes_an_entry_not_even_a_manager(
        self, time_api: httpx.AsyncClient, team: Team, other_agency: Caller
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        for verb in ("patch", "delete"):
            kwargs: dict[str, Any] = (
                {"json": {"description": "mine now"}} if verb == "patch" else {}
            )
            by_manager = await time_api.request(verb, path, headers=team.manager.headers, **kwargs)
            by_owner = await time_api.request(verb, path, headers=team.owner.headers, **kwargs)
            by_colleague = await time_api.request(
                verb, path, headers=team.colleague.headers, **kwargs
            )
            by_stranger = await time_api.request(verb, path, headers=other_agency.headers, **kwargs)
            assert_problem(by_manager, 403, "permission-denied")
            assert_problem(by_owner, 403, "permission-denied")
            assert_problem(by_colleague, 404, "not-found")
            assert_problem(by_stranger, 404, "not-found")

        unchanged = await time_api.get(path, headers=team.member.headers)
        assert unchanged.json() == entry

    @pytest.mark.parametrize("status", ["submitted", "approved", "invoiced"])
    async def test_an_entry_past_draft_is_locked_naming_its_status(
        self,
        time_api: httpx.AsyncClient,
        team: Team,
        entry_in_status: Callable[[str], Awaitable[uuid.UUID]],
        status: str,
    ) -> None:
        entry_id = await entry_in_status(status)
        path = f"/v1/time-entries/{entry_id}"

        edited = await time_api.patch(
            path, json={"description": "later"}, headers=team.member.headers
        )
        deleted = await time_api.delete(path, headers=team.member.headers)

        for response in (edited, deleted):
            body = assert_problem(response, 409, "conflict")
            assert body["entry_status"] == status
            assert status in body["detail"]
        still = await time_api.get(path, headers=team.member.headers)
        assert (still.json()["status"], still.json()["version"]) == (status, 1)

    async def test_a_rejected_entry_may_be_fixed_and_deleted(
        self, time_api: httpx.AsyncClient, team: Team, seed_entry: SeedEntry
    ) -> None:
        entry_id = await seed_entry(
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=LAST_WEEK,
            duration_seconds=HOUR,
            status="rejected",
        )
        path = f"/v1/time-entries/{entry_id}"

        edited = await time_api.patch(
            path, json={"duration_seconds": 1800}, headers=team.member.headers
        )
        deleted = await time_api.delete(path, headers=team.member.headers)

        assert edited.status_code == 200, edited.text
        assert edited.json()["duration_seconds"] == 1800
        assert deleted.status_code == 204, deleted.text


class TestDeleting:
    async def test_the_author_deletes_a_draft_and_its_trail_stays_readable(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        response = await time_api.delete(path, headers=team.member.headers)

        assert response.status_code == 204, response.text
        assert_problem(await time_api.get(path, headers=team.member.headers), 404, "not-found")
        created, deleted = await history(time_api, team.member, entry["id"])
        assert (created["action"], deleted["action"]) == ("created", "deleted")
        assert deleted["changes"]["duration_seconds"] == {"old": HOUR, "new": None}
        assert len(await history(time_api, team.manager, entry["id"])) == 2
        trail = await time_api.get(f"{path}/history", headers=team.colleague.headers)
        assert_problem(trail, 404, "not-found")
        assert (await listing(time_api, team.member))["total"] == 0
