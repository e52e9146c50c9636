"""Timers (`timer/service.py`) in-process: one running timer per person, started on a
project they are a member of, stopped into time entries under the same rules as logging (at
most 12 hours, one entry per day across the agency's midnight, no overlaps), discarded without
a trace, and nobody else's business. The `time.entry.logged` event of a stop as published: the
platform tier."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess
from agencyos.testing.sql import fetch_rows, fetch_value
from agencyos.testing.timezones import zone_where_it_is

HOUR = 3600

SeedEntry = Callable[..., Awaitable[uuid.UUID]]


@dataclass(frozen=True)
class Team:
    owner: Caller
    member: Caller
    project: dict[str, Any]


def new_task(in_process: InProcess, agency: Agency, project: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(in_process.standins.work.add_task(agency.id, uuid.UUID(project["id"])))}


def set_timezone(in_process: InProcess, agency: Agency, name: str) -> None:
    """The agency's timezone, as identity answers it (before time first asks)."""
    in_process.standins.identity.add_agency(agency.id, timezone=name)


@pytest.fixture
def team(in_process: InProcess, tenant: Agency) -> Team:
    # Midday in the agency's zone, so the minutes and hours a test backdates a timer by never
    # cross the agency's midnight (which would split the entry) whenever the suite runs; the
    # midnight test picks its own zone.
    set_timezone(in_process, tenant, zone_where_it_is(12))
    member = tenant.caller("member")
    project = tenant.new_project(member, billing_type="hourly", status="active")
    return Team(tenant.owner, member, project)


async def start(client: httpx.AsyncClient, who: Caller, **body: Any) -> httpx.Response:
    return await client.post("/v1/timers/start", json=body, headers=who.headers)


async def started(client: httpx.AsyncClient, who: Caller, **body: Any) -> dict[str, Any]:
    response = await start(client, who, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stop(client: httpx.AsyncClient, who: Caller) -> httpx.Response:
    return await client.post("/v1/timers/stop", headers=who.headers)


async def current(client: httpx.AsyncClient, who: Caller) -> Any:
    response = await client.get("/v1/timers/current", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def backdate(time_db: ServiceInProcess, who: Caller, started_at: datetime) -> None:
    """Let `who`'s running timer have started at `started_at`."""
    await fetch_value(
        time_db.infra,
        time_db.database,
        "UPDATE timers SET started_at = $1 WHERE user_id = $2 RETURNING id",
        started_at,
        who.user_id,
        tenant_id=who.agency_id,
        owner=True,
    )


def close_to(value: int, expected: int, slack: int = 30) -> bool:
    """A duration measured against the clock, give or take the requests' own time."""
    return expected <= value <= expected + slack


class TestStartingAndStopping:
    async def test_a_started_timer_is_current_until_stopped_into_an_entry(
        self,
        time_db: ServiceInProcess,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        task = new_task(in_process, tenant, team.project)
        assert await current(time_api, team.member) is None

        body = await started(
            time_api,
            team.member,
            project_id=team.project["id"],
            task_id=task["id"],
            description="Wireframes",
        )
        timer = body["timer"]
        assert body["stopped"] is None
        assert (timer["project_id"], timer["task_id"]) == (team.project["id"], task["id"])
        assert timer["user_id"] == str(team.member.user_id)
        assert timer["is_billable"] is True
        assert (await current(time_api, team.member))["id"] == timer["id"]
        await backdate(time_db, team.member, datetime.now(UTC) - timedelta(minutes=90))
        assert close_to((await current(time_api, team.member))["elapsed_seconds"], 5400)

        response = await stop(time_api, team.member)

        assert response.status_code == 200, response.text
        stopped = response.json()
        assert (stopped["discarded"], stopped["capped"]) == (False, False)
        [entry] = stopped["entries"]
        assert close_to(entry["duration_seconds"], 5400)
        assert (entry["project_id"], entry["task_id"]) == (team.project["id"], task["id"])
        assert entry["description"] == "Wireframes"
        assert entry["is_billable"] is True
        assert entry["status"] == "draft"
        assert stopped["timer"]["id"] == timer["id"]
        assert "logged" in stopped["detail"]
        assert await current(time_api, team.member) is None
        listed = await time_api.get("/v1/time-entries", headers=team.member.headers)
        assert [e["id"] for e in listed.json()["items"]] == [entry["id"]]

    async def test_starting_another_timer_stops_and_saves_the_running_one(
        self,
        time_db: ServiceInProcess,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        other = tenant.new_project(team.member, status="active")
        first = (await started(time_api, team.member, project_id=team.project["id"]))["timer"]
        await backdate(time_db, team.member, datetime.now(UTC) - timedelta(minutes=20))

        body = await started(time_api, team.member, project_id=other["id"], is_billable=False)

        assert body["stopped"]["timer"]["id"] == first["id"]
        [entry] = body["stopped"]["entries"]
        assert entry["project_id"] == team.project["id"]
        assert close_to(entry["duration_seconds"], 1200)
        running = await current(time_api, team.member)
        assert running["id"] == body["timer"]["id"]
        assert (running["project_id"], running["is_billable"]) == (other["id"], False)
        # the new timer starts where the saved one ends: no gap, no overlap
        assert datetime.fromisoformat(running["started_at"]) >= datetime.fromisoformat(
            entry["ended_at"]
        )
        rows = await fetch_rows(
            time_db.infra,
            time_db.database,
            "SELECT id FROM timers WHERE user_id = $1",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        assert len(rows) == 1

    async def test_concurrent_starts_leave_one_running_timer(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        responses = await asyncio.gather(
            *(start(time_api, team.member, project_id=team.project["id"]) for _ in range(4))
        )

        assert any(r.status_code == 201 for r in responses), [r.text for r in responses]
        for response in responses:
            assert response.status_code in (201, 409), response.text
        count = await fetch_value(
            time_db.infra,
            time_db.database,
            "SELECT count(*) FROM timers WHERE user_id = $1",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        assert count == 1

    async def test_each_person_has_their_own_timer(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        colleague = tenant.caller("member")
        project = tenant.new_project(team.member, colleague, status="active")

        mine = (await started(time_api, team.member, project_id=project["id"]))["timer"]
        theirs = (await started(time_api, colleague, project_id=project["id"]))["timer"]

        assert (await current(time_api, team.member))["id"] == mine["id"]
        assert (await current(time_api, colleague))["id"] == theirs["id"]
        assert await current(time_api, team.owner) is None


class TestStoppingRules:
    async def test_a_timer_under_a_second_is_discarded_and_says_so(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await started(time_api, team.member, project_id=team.project["id"])
        # it started a moment ago, whatever the time the start request itself took
        await backdate(time_db, team.member, datetime.now(UTC) - timedelta(milliseconds=100))

        response = await stop(time_api, team.member)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["discarded"], body["entries"]) == (True, [])
        assert "less than a second" in body["detail"]
        assert await current(time_api, team.member) is None
        listed = await time_api.get("/v1/time-entries", headers=team.member.headers)
        assert listed.json()["total"] == 0

    async def test_a_timer_over_twelve_hours_logs_only_its_first_twelve_and_says_so(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await started(time_api, team.member, project_id=team.project["id"])
        began = (datetime.now(UTC) - timedelta(hours=30)).replace(microsecond=0)
        await backdate(time_db, team.member, began)

        response = await stop(time_api, team.member)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["capped"] is True
        assert "12 hours" in body["detail"]
        entries = body["entries"]
        assert sum(e["duration_seconds"] for e in entries) == 12 * HOUR
        assert datetime.fromisoformat(entries[0]["started_at"]) == began
        assert datetime.fromisoformat(entries[-1]["ended_at"]) == began + timedelta(hours=12)

    async def test_a_timer_across_the_agencys_midnight_becomes_one_entry_per_day(
        self,
        time_db: ServiceInProcess,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        zone = zone_where_it_is(2)  # about two hours past midnight, agency time
        set_timezone(in_process, tenant, zone)
        await started(time_api, team.member, project_id=team.project["id"])
        now = datetime.now(UTC)
        began = (now - timedelta(hours=4)).replace(microsecond=0)
        await backdate(time_db, team.member, began)

        response = await stop(time_api, team.member)

        assert response.status_code == 200, response.text
        body = response.json()
        first, second = body["entries"]
        local_today = now.astimezone(ZoneInfo(zone)).date()
        midnight = datetime.combine(local_today, datetime.min.time(), tzinfo=ZoneInfo(zone))
        assert first["date"] == (local_today - timedelta(days=1)).isoformat()
        assert second["date"] == local_today.isoformat()
        assert datetime.fromisoformat(first["ended_at"]) == midnight
        assert datetime.fromisoformat(second["started_at"]) == midnight
        assert first["duration_seconds"] == int((midnight - began).total_seconds())
        assert "split at midnight" in body["detail"]

    async def test_a_timer_that_clashes_with_an_entry_keeps_running(
        self,
        time_db: ServiceInProcess,
        seed_entry: SeedEntry,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        await started(time_api, team.member, project_id=team.project["id"])
        began = datetime.now(UTC) - timedelta(hours=2)
        await backdate(time_db, team.member, began)
        # logged meanwhile by a path that skips the API's timer check
        clash = await seed_entry(
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=began.date(),
            started_at=(began + timedelta(minutes=30)).replace(microsecond=0),
            duration_seconds=600,
        )

        response = await stop(time_api, team.member)

        body = assert_problem(response, 409, "conflict")
        assert body["clashing_entry_id"] == str(clash)
        assert await current(time_api, team.member) is not None

    async def test_stopping_or_discarding_without_a_timer_is_not_found(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        stopped = await stop(time_api, team.member)
        discarded = await time_api.delete("/v1/timers/current", headers=team.member.headers)

        assert_problem(stopped, 404, "not-found")
        assert_problem(discarded, 404, "not-found")

    async def test_a_discarded_timer_logs_nothing(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await started(time_api, team.member, project_id=team.project["id"])
        await backdate(time_db, team.member, datetime.now(UTC) - timedelta(hours=1))

        response = await time_api.delete("/v1/timers/current", headers=team.member.headers)

        assert response.status_code == 204, response.text
        assert await current(time_api, team.member) is None
        listed = await time_api.get("/v1/time-entries", headers=team.member.headers)
        assert listed.json()["total"] == 0


class TestWhereTimersRun:
    async def test_only_on_a_project_one_is_a_member_of(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        outsider_project = tenant.new_project(status="active")

        response = await start(time_api, team.member, project_id=outsider_project["id"])

        assert_problem(response, 403, "permission-denied")
        assert await current(time_api, team.member) is None

    @pytest.mark.parametrize("status", ["completed", "archived"])
    async def test_not_on_a_project_closed_for_work(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
        status: str,
    ) -> None:
        closed = tenant.new_project(team.member, status=status)

        response = await start(time_api, team.member, project_id=closed["id"])

        assert assert_problem(response, 409, "conflict")["project_status"] == status

    async def test_a_task_must_be_of_the_project_and_ids_must_be_the_agencys(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
        other_tenant: Agency,
    ) -> None:
        sibling = tenant.new_project(team.member, status="active")
        elsewhere = new_task(in_process, tenant, sibling)
        theirs = other_tenant.new_project(status="active")

        wrong_task = await start(
            time_api, team.member, project_id=team.project["id"], task_id=elsewhere["id"]
        )
        foreign = await start(time_api, team.member, project_id=theirs["id"])
        malformed = await start(time_api, team.member, project_id="nope")

        assert_invalid_fields(wrong_task, "task_id")
        assert_invalid_fields(foreign, "project_id")
        assert_invalid_fields(malformed, "project_id")
        assert await current(time_api, team.member) is None

    async def test_a_running_timer_is_the_persons_own(
        self,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
        other_tenant: Agency,
    ) -> None:
        await started(time_api, team.member, project_id=team.project["id"])
        manager = tenant.caller("manager")

        # nobody else sees, stops or discards it: each acts on their own (absent) timer
        assert await current(time_api, manager) is None
        assert await current(time_api, other_tenant.owner) is None
        assert_problem(await stop(time_api, manager), 404, "not-found")
        assert_problem(
            await time_api.delete("/v1/timers/current", headers=other_tenant.owner.headers),
            404,
            "not-found",
        )
        assert await current(time_api, team.member) is not None

    async def test_client_users_have_no_timers(
        self, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        client_user = tenant.caller("client")

        for response in (
            await start(time_api, client_user, project_id=team.project["id"]),
            await stop(time_api, client_user),
            await time_api.get("/v1/timers/current", headers=client_user.headers),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_not_in_a_week_already_submitted(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        today = datetime.now(UTC).date()
        await fetch_value(
            time_db.infra,
            time_db.database,
            "INSERT INTO timesheets (tenant_id, id, user_id, week_start, status) "
            "VALUES ($1, $2, $3, $4, 'submitted') RETURNING id",
            team.owner.agency_id,
            uuid.uuid4(),
            team.member.user_id,
            today - timedelta(days=today.weekday()),
            tenant_id=team.owner.agency_id,
            owner=True,
        )

        response = await start(time_api, team.member, project_id=team.project["id"])

        assert assert_problem(response, 409, "conflict")["timesheet_status"] == "submitted"
