"""Timers through the real gateway: one running timer per person, starting one stops and saves
the one running, stopping logs entries by the entry rules (split at the agency's midnight,
capped at 12 hours, discarded under a second), the current timer, discarding, and who may
start one where. A timer's start is moved into the past straight in time's database to
stand for the time it ran."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
    new_task,
    seed_time_entry,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value
from agencyos.testing.timezones import set_timezone, zone_where_it_is

HOUR = 3600


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    member: AgencySession
    project: dict[str, Any]


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    # Midday in the agency's zone, so the minutes and hours a test backdates a timer by never
    # cross the agency's midnight (which would split the entry) whenever the suite runs; the
    # midnight test picks its own zone.
    await set_timezone(gateway, agency, zone_where_it_is(12))
    member = await add_member(platform, gateway, agency, "member")
    project = await new_project(gateway, agency, member, billing_type="hourly", status="active")
    return Team(agency, member, project)


async def start(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> httpx.Response:
    return await gateway.post("/v1/timers/start", json=body, headers=who.headers)


async def started(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> dict[str, Any]:
    response = await start(gateway, who, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stop(gateway: httpx.AsyncClient, who: AgencySession) -> httpx.Response:
    return await gateway.post("/v1/timers/stop", headers=who.headers)


async def current(gateway: httpx.AsyncClient, who: AgencySession) -> Any:
    response = await gateway.get("/v1/timers/current", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def backdate(platform: Platform, who: AgencySession, started_at: datetime) -> None:
    """Let `who`'s running timer have started at `started_at`."""
    await fetch_value(
        platform.infra,
        platform.database("time"),
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
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        task = await new_task(gateway, team.owner, team.project["id"])
        assert await current(gateway, team.member) is None

        body = await started(
            gateway,
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
        assert (await current(gateway, team.member))["id"] == timer["id"]
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(minutes=90))
        assert close_to((await current(gateway, team.member))["elapsed_seconds"], 5400)

        response = await stop(gateway, team.member)

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
        assert await current(gateway, team.member) is None
        listed = await gateway.get("/v1/time-entries", headers=team.member.headers)
        assert [e["id"] for e in listed.json()["items"]] == [entry["id"]]

    async def test_stopping_publishes_time_entry_logged(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(minutes=30))
        response = await stop(gateway, team.member)
        [entry] = response.json()["entries"]

        def logged(records: list[Any]) -> list[dict[str, Any]]:
            return [
                e
                for e in events_where(
                    records, tenantid=str(team.owner.agency_id), type="time.entry.logged"
                )
                if e["data"]["entry_id"] == entry["id"]
            ]

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}time.events",
            lambda rs: len(logged(rs)) >= 1,
        )
        assert logged(records)[0]["data"]["duration_seconds"] == entry["duration_seconds"]

    async def test_starting_another_timer_stops_and_saves_the_running_one(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        other = await new_project(gateway, team.owner, team.member, status="active")
        first = (await started(gateway, team.member, project_id=team.project["id"]))["timer"]
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(minutes=20))

        body = await started(gateway, team.member, project_id=other["id"], is_billable=False)

        assert body["stopped"]["timer"]["id"] == first["id"]
        [entry] = body["stopped"]["entries"]
        assert entry["project_id"] == team.project["id"]
        assert close_to(entry["duration_seconds"], 1200)
        running = await current(gateway, team.member)
        assert running["id"] == body["timer"]["id"]
        assert (running["project_id"], running["is_billable"]) == (other["id"], False)
        # the new timer starts where the saved one ends: no gap, no overlap
        assert datetime.fromisoformat(running["started_at"]) >= datetime.fromisoformat(
            entry["ended_at"]
        )
        rows = await fetch_rows(
            platform.infra,
            platform.database("time"),
            "SELECT id FROM timers WHERE user_id = $1",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        assert len(rows) == 1

    async def test_concurrent_starts_leave_one_running_timer(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        responses = await asyncio.gather(
            *(start(gateway, team.member, project_id=team.project["id"]) for _ in range(4))
        )

        assert any(r.status_code == 201 for r in responses), [r.text for r in responses]
        for response in responses:
            assert response.status_code in (201, 409), response.text
        count = await fetch_value(
            platform.infra,
            platform.database("time"),
            "SELECT count(*) FROM timers WHERE user_id = $1",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        assert count == 1

    async def test_each_person_has_their_own_timer(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        colleague = await add_member(platform, gateway, team.owner, "member")
        project = await new_project(gateway, team.owner, team.member, colleague, status="active")

        mine = (await started(gateway, team.member, project_id=project["id"]))["timer"]
        theirs = (await started(gateway, colleague, project_id=project["id"]))["timer"]

        assert (await current(gateway, team.member))["id"] == mine["id"]
        assert (await current(gateway, colleague))["id"] == theirs["id"]
        assert await current(gateway, team.owner) is None


class TestStoppingRules:
    async def test_a_timer_under_a_second_is_discarded_and_says_so(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        # it started a moment ago, whatever the time the start request itself took
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(milliseconds=100))

        response = await stop(gateway, team.member)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["discarded"], body["entries"]) == (True, [])
        assert "less than a second" in body["detail"]
        assert await current(gateway, team.member) is None
        listed = await gateway.get("/v1/time-entries", headers=team.member.headers)
        assert listed.json()["total"] == 0

    async def test_a_timer_over_twelve_hours_logs_only_its_first_twelve_and_says_so(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        began = (datetime.now(UTC) - timedelta(hours=30)).replace(microsecond=0)
        await backdate(platform, team.member, began)

        response = await stop(gateway, team.member)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["capped"] is True
        assert "12 hours" in body["detail"]
        entries = body["entries"]
        assert sum(e["duration_seconds"] for e in entries) == 12 * HOUR
        assert datetime.fromisoformat(entries[0]["started_at"]) == began
        assert datetime.fromisoformat(entries[-1]["ended_at"]) == began + timedelta(hours=12)

    async def test_a_timer_across_the_agencys_midnight_becomes_one_entry_per_day(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        zone = zone_where_it_is(2)  # about two hours past midnight, agency time
        await set_timezone(gateway, team.owner, zone)
        await started(gateway, team.member, project_id=team.project["id"])
        now = datetime.now(UTC)
        began = (now - timedelta(hours=4)).replace(microsecond=0)
        await backdate(platform, team.member, began)

        response = await stop(gateway, team.member)

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
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        began = datetime.now(UTC) - timedelta(hours=2)
        await backdate(platform, team.member, began)
        # logged meanwhile by a path that skips the API's timer check
        clash = await seed_time_entry(
            platform,
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=began.date(),
            started_at=(began + timedelta(minutes=30)).replace(microsecond=0),
            duration_seconds=600,
        )

        response = await stop(gateway, team.member)

        body = assert_problem(response, 409, "conflict")
        assert body["clashing_entry_id"] == str(clash)
        assert await current(gateway, team.member) is not None

    async def test_stopping_or_discarding_without_a_timer_is_not_found(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        stopped = await stop(gateway, team.member)
        discarded = await gateway.delete("/v1/timers/current", headers=team.member.headers)

        assert_problem(stopped, 404, "not-found")
        assert_problem(discarded, 404, "not-found")

    async def test_a_discarded_timer_logs_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(hours=1))

        response = await gateway.delete("/v1/timers/current", headers=team.member.headers)

        assert response.status_code == 204, response.text
        assert await current(gateway, team.member) is None
        listed = await gateway.get("/v1/time-entries", headers=team.member.headers)
        assert listed.json()["total"] == 0


class TestWhereTimersRun:
    async def test_only_on_a_project_one_is_a_member_of(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        outsider_project = await new_project(gateway, team.owner, status="active")

        response = await start(gateway, team.member, project_id=outsider_project["id"])

        assert_problem(response, 403, "permission-denied")
        assert await current(gateway, team.member) is None

    @pytest.mark.parametrize("status", ["completed", "archived"])
    async def test_not_on_a_project_closed_for_work(
        self, gateway: httpx.AsyncClient, team: Team, status: str
    ) -> None:
        closed = await new_project(gateway, team.owner, team.member, status=status)

        response = await start(gateway, team.member, project_id=closed["id"])

        assert assert_problem(response, 409, "conflict")["project_status"] == status

    async def test_a_task_must_be_of_the_project_and_ids_must_be_the_agencys(
        self, gateway: httpx.AsyncClient, team: Team, other_agency: AgencySession
    ) -> None:
        sibling = await new_project(gateway, team.owner, team.member, status="active")
        elsewhere = await new_task(gateway, team.owner, sibling["id"])
        theirs = await new_project(gateway, other_agency, status="active")

        wrong_task = await start(
            gateway, team.member, project_id=team.project["id"], task_id=elsewhere["id"]
        )
        foreign = await start(gateway, team.member, project_id=theirs["id"])
        malformed = await start(gateway, team.member, project_id="nope")

        assert_invalid_fields(wrong_task, "task_id")
        assert_invalid_fields(foreign, "project_id")
        assert_invalid_fields(malformed, "project_id")
        assert await current(gateway, team.member) is None

    async def test_a_running_timer_is_the_persons_own(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        team: Team,
        other_agency: AgencySession,
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        manager = await add_member(platform, gateway, team.owner, "manager")

        # nobody else sees, stops or discards it: each acts on their own (absent) timer
        assert await current(gateway, manager) is None
        assert await current(gateway, other_agency) is None
        assert_problem(await stop(gateway, manager), 404, "not-found")
        assert_problem(
            await gateway.delete("/v1/timers/current", headers=other_agency.headers),
            404,
            "not-found",
        )
        assert await current(gateway, team.member) is not None

    async def test_client_users_have_no_timers(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        client_user = await add_member(platform, gateway, team.owner, "client")

        for response in (
            await start(gateway, client_user, project_id=team.project["id"]),
            await stop(gateway, client_user),
            await gateway.get("/v1/timers/current", headers=client_user.headers),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_not_in_a_week_already_submitted(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        today = datetime.now(UTC).date()
        await fetch_value(
            platform.infra,
            platform.database("time"),
            "INSERT INTO timesheets (tenant_id, id, user_id, week_start, status) "
            "VALUES ($1, $2, $3, $4, 'submitted') RETURNING id",
            team.owner.agency_id,
            uuid.uuid4(),
            team.member.user_id,
            today - timedelta(days=today.weekday()),
            tenant_id=team.owner.agency_id,
            owner=True,
        )

        response = await start(gateway, team.member, project_id=team.project["id"])

        assert assert_problem(response, 409, "conflict")["timesheet_status"] == "submitted"
