"""Every integrity rule of time entries (`entry/rules.py`, enforced by `entry/service.py`),
each with a test that tries to break it, in-process (and, where PostgreSQL holds the rule too,
straight against the database): no time dated after the agency's today in its own timezone, at
most 12 hours an entry, one entry per day for an interval across the agency's midnight, no
overlapping intervals of one person (also under concurrent requests: exactly one wins), time
only on projects the person is a member of and that are open for work, tasks of that project
only, nothing into a submitted week, and other agencies' ids answering as if they did not
exist."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess
from agencyos.testing.sql import fetch_rows, fetch_value
from agencyos.testing.timezones import zone_where_it_is

HOUR = 3600
TWELVE_HOURS = 12 * HOUR
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
LAST_WEEK = YESTERDAY - timedelta(days=7)

SeedEntry = Callable[..., Awaitable[uuid.UUID]]


def at(day: date, hour: int, minute: int = 0, second: int = 0, zone: str = "UTC") -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZoneInfo(zone))


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
    member = tenant.caller("member")
    project = tenant.new_project(member, billing_type="hourly", status="active")
    return Team(tenant.owner, member, project)


async def log(client: httpx.AsyncClient, who: Caller, **body: Any) -> httpx.Response:
    for name in ("started_at", "ended_at"):
        if isinstance(body.get(name), datetime):
            body[name] = body[name].isoformat()
    if isinstance(body.get("date"), date):
        body["date"] = body["date"].isoformat()
    return await client.post("/v1/time-entries", json=body, headers=who.headers)


async def log_interval(
    client: httpx.AsyncClient,
    who: Caller,
    project: dict[str, Any],
    started_at: datetime,
    ended_at: datetime,
    **body: Any,
) -> httpx.Response:
    return await log(
        client, who, project_id=project["id"], started_at=started_at, ended_at=ended_at, **body
    )


async def logged_one(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    [entry] = response.json()["entries"]
    return dict(entry)


async def entry_count(time_db: ServiceInProcess, who: Caller) -> int:
    count = await fetch_value(
        time_db.infra,
        time_db.database,
        "SELECT count(*) FROM time_entries WHERE user_id = $1",
        who.user_id,
        tenant_id=who.agency_id,
        owner=True,
    )
    return int(count)


async def set_week_status(time_db: ServiceInProcess, who: Caller, day: date, status: str) -> None:
    """The timesheet of `who`'s week containing `day` in `status`, set straight in time's
    database (the approval flow is tested with timesheets)."""
    monday = day - timedelta(days=day.weekday())
    await fetch_value(
        time_db.infra,
        time_db.database,
        "INSERT INTO timesheets (tenant_id, id, user_id, week_start, status) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id, week_start) "
        "DO UPDATE SET status = EXCLUDED.status RETURNING id",
        who.agency_id,
        uuid.uuid4(),
        who.user_id,
        monday,
        status,
        tenant_id=who.agency_id,
        owner=True,
    )


# --- no future time, in the agency's timezone ---------------------------------------------------


class TestNoFutureTime:
    async def test_a_date_after_the_agencys_today_is_refused_in_the_agencys_timezone(
        self,
        time_api: httpx.AsyncClient,
        in_process: InProcess,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        # 25 hours apart: Kiritimati's today is always a day (or two) after Pago Pago's
        kiritimati_today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
        set_timezone(in_process, tenant, "Pacific/Kiritimati")
        set_timezone(in_process, other_tenant, "Pacific/Pago_Pago")
        ahead = tenant.new_project(status="active")
        behind = other_tenant.new_project(status="active")

        accepted = await log(
            time_api,
            tenant.owner,
            project_id=ahead["id"],
            date=kiritimati_today,
            duration_seconds=1,
        )
        refused = await log(
            time_api,
            other_tenant.owner,
            project_id=behind["id"],
            date=kiritimati_today,
            duration_seconds=1,
        )

        assert accepted.status_code == 201, accepted.text
        body = assert_invalid_fields(refused, "date")
        assert "future" in body["detail"]

    async def test_an_interval_ending_after_now_is_refused(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        now = datetime.now(UTC)

        response = await log_interval(
            time_api,
            team.member,
            team.project,
            now - timedelta(hours=1),
            now + timedelta(minutes=5),
        )

        assert_invalid_fields(response, "ended_at")

    async def test_today_holds_no_more_time_than_has_passed_since_its_midnight(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        zone = zone_where_it_is(1)  # between 1 and 2 hours of today have passed
        set_timezone(in_process, tenant, zone)
        today = datetime.now(ZoneInfo(zone)).date()

        too_long = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            date=today,
            duration_seconds=3 * HOUR,
        )
        fits = await log(
            time_api, team.member, project_id=team.project["id"], date=today, duration_seconds=1800
        )

        assert_invalid_fields(too_long, "duration_seconds")
        assert fits.status_code == 201, fits.text

    async def test_an_edit_may_not_move_an_entry_into_the_future(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)

        moved = await time_api.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"started_at": None, "ended_at": None, "date": tomorrow.isoformat()},
            headers=team.member.headers,
        )

        assert_invalid_fields(moved, "date")


# --- at most 12 hours -------------------------------------------------------------------------


class TestTwelveHours:
    async def test_twelve_hours_is_the_most_an_entry_holds(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        project = team.project["id"]

        longest = await log(
            time_api, team.member, project_id=project, date=LAST_WEEK, duration_seconds=TWELVE_HOURS
        )
        longer = await log(
            time_api,
            team.member,
            project_id=project,
            date=LAST_WEEK,
            duration_seconds=TWELVE_HOURS + 1,
        )
        interval = await log_interval(
            time_api, team.member, team.project, at(YESTERDAY, 6), at(YESTERDAY, 18)
        )
        longer_interval = await log_interval(
            time_api,
            team.member,
            team.project,
            at(YESTERDAY - timedelta(days=1), 6),
            at(YESTERDAY - timedelta(days=1), 18, 0, 1),
        )

        assert longest.status_code == 201, longest.text
        assert_invalid_fields(longer, "duration_seconds")
        assert (await logged_one(interval))["duration_seconds"] == TWELVE_HOURS
        assert_invalid_fields(longer_interval, "ended_at")

    async def test_an_edit_may_not_stretch_an_entry_past_twelve_hours(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        stretched = await time_api.patch(
            f"/v1/time-entries/{entry['id']}",
            json={
                "started_at": at(YESTERDAY, 0).isoformat(),
                "ended_at": at(YESTERDAY, 12, 30).isoformat(),
            },
            headers=team.member.headers,
        )

        assert_invalid_fields(stretched, "ended_at")

    async def test_the_database_refuses_more_than_twelve_hours_itself(
        self, seed_entry: SeedEntry, time_db: ServiceInProcess, team: Team
    ) -> None:
        with pytest.raises(asyncpg.CheckViolationError):
            await seed_entry(
                team.owner,
                user_id=team.member.user_id,
                project_id=uuid.UUID(team.project["id"]),
                day=LAST_WEEK,
                duration_seconds=TWELVE_HOURS + 1,
            )


# --- one entry per day --------------------------------------------------------------------------


class TestMidnightSplit:
    async def test_an_interval_across_the_agencys_midnight_becomes_one_entry_per_day(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_db: ServiceInProcess,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        zone = "America/New_York"
        set_timezone(in_process, tenant, zone)
        first_day = YESTERDAY - timedelta(days=2)
        second_day = first_day + timedelta(days=1)

        response = await log_interval(
            time_api,
            team.member,
            team.project,
            at(first_day, 22, 30, zone=zone),
            at(second_day, 1, 15, zone=zone),
            description="Launch night",
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["split"] is True
        first, second = body["entries"]
        midnight = at(second_day, 0, zone=zone)
        assert (first["date"], first["duration_seconds"]) == (first_day.isoformat(), 5400)
        assert (second["date"], second["duration_seconds"]) == (second_day.isoformat(), 4500)
        assert datetime.fromisoformat(first["ended_at"]) == midnight
        assert datetime.fromisoformat(second["started_at"]) == midnight
        assert {e["description"] for e in body["entries"]} == {"Launch night"}
        assert {e["project_id"] for e in body["entries"]} == {team.project["id"]}

        # what the service wrote to its outbox (the relay publishes it: the platform tier)
        rows = await fetch_rows(
            time_db.infra,
            time_db.database,
            "SELECT envelope FROM outbox WHERE event_type = 'time.entry.logged'",
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        events = [json.loads(r["envelope"]) for r in rows]
        ids = {first["id"], second["id"]}
        logged = [e for e in events if e["data"]["entry_id"] in ids]
        assert sorted(e["data"]["duration_seconds"] for e in logged) == [4500, 5400]

    async def test_utc_midnight_is_not_the_agencys_midnight(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        zone = "America/New_York"
        set_timezone(in_process, tenant, zone)
        day = YESTERDAY - timedelta(days=2)

        # 18:00 to 21:00 in New York crosses midnight in UTC, not in New York
        response = await log_interval(
            time_api, team.member, team.project, at(day, 18, zone=zone), at(day, 21, zone=zone)
        )

        entry = await logged_one(response)
        assert response.json()["split"] is False
        assert (entry["date"], entry["duration_seconds"]) == (day.isoformat(), 3 * HOUR)

    async def test_an_edit_may_not_stretch_an_entry_across_midnight(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(LAST_WEEK, 21), at(LAST_WEEK, 23)
            )
        )

        stretched = await time_api.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"ended_at": at(LAST_WEEK + timedelta(days=1), 1).isoformat()},
            headers=team.member.headers,
        )

        assert_invalid_fields(stretched, "ended_at")


# --- no overlaps --------------------------------------------------------------------------------


class TestNoOverlaps:
    @pytest.mark.parametrize(
        ("start", "end"),
        [((9, 30), (10, 30)), ((8, 0), (9, 1)), ((9, 15), (9, 45)), ((8, 0), (11, 0))],
    )
    async def test_an_overlapping_interval_is_refused_naming_the_clashing_entry(
        self,
        time_db: ServiceInProcess,
        time_api: httpx.AsyncClient,
        team: Team,
        start: tuple[int, int],
        end: tuple[int, int],
    ) -> None:
        existing = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        response = await log_interval(
            time_api, team.member, team.project, at(YESTERDAY, *start), at(YESTERDAY, *end)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["clashing_entry_id"] == existing["id"]
        assert existing["id"] in body["detail"]
        assert await entry_count(time_db, team.member) == 1

    async def test_intervals_that_only_touch_do_not_overlap(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        before = await log_interval(
            time_api, team.member, team.project, at(YESTERDAY, 8), at(YESTERDAY, 9)
        )
        after = await log_interval(
            time_api, team.member, team.project, at(YESTERDAY, 10), at(YESTERDAY, 11)
        )
        duration = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            date=YESTERDAY,
            duration_seconds=HOUR,
        )

        for response in (before, after, duration):
            assert response.status_code == 201, response.text

    async def test_two_people_may_work_at_the_same_time(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_db: ServiceInProcess,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        colleague = tenant.caller("member")
        project = tenant.new_project(team.member, colleague, status="active")

        mine = await log_interval(
            time_api, team.member, project, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )
        theirs = await log_interval(
            time_api, colleague, project, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )

        assert (mine.status_code, theirs.status_code) == (201, 201)

    async def test_an_edit_into_another_entrys_time_is_refused(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        first = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )
        second = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 11), at(YESTERDAY, 12)
            )
        )

        moved = await time_api.patch(
            f"/v1/time-entries/{second['id']}",
            json={"started_at": at(YESTERDAY, 9, 59).isoformat()},
            headers=team.member.headers,
        )
        own_time = await time_api.patch(
            f"/v1/time-entries/{first['id']}",
            json={
                "started_at": at(YESTERDAY, 9, 30).isoformat(),
                "ended_at": at(YESTERDAY, 10, 30).isoformat(),
            },
            headers=team.member.headers,
        )

        assert assert_problem(moved, 409, "conflict")["clashing_entry_id"] == first["id"]
        # an entry never clashes with itself
        assert own_time.status_code == 200, own_time.text

    async def test_an_interval_may_not_reach_into_the_running_timer(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        started = await time_api.post(
            "/v1/timers/start", json={"project_id": team.project["id"]}, headers=team.member.headers
        )
        assert started.status_code == 201, started.text
        await fetch_value(
            time_db.infra,
            time_db.database,
            "UPDATE timers SET started_at = now() - interval '2 hours' WHERE user_id = $1 "
            "RETURNING id",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        now = datetime.now(UTC)

        into = await log_interval(
            time_api, team.member, team.project, now - timedelta(hours=3), now - timedelta(hours=1)
        )
        before = await log_interval(
            time_api, team.member, team.project, now - timedelta(hours=4), now - timedelta(hours=3)
        )

        body = assert_problem(into, 409, "conflict")
        assert body["clashing_timer_id"] == started.json()["timer"]["id"]
        assert before.status_code == 201, before.text

    async def test_of_concurrent_overlapping_requests_exactly_one_wins(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        # the week's timesheet exists already, so nothing but the entries themselves can
        # make the requests wait for each other
        await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(LAST_WEEK, 6), at(LAST_WEEK, 7)
            )
        )
        attempts = [
            log_interval(
                time_api,
                team.member,
                team.project,
                at(LAST_WEEK, 9, minute),
                at(LAST_WEEK, 10, minute),
                description=f"attempt {minute}",
            )
            for minute in range(0, 30, 5)
        ]

        responses = await asyncio.gather(*attempts)

        winners = [r for r in responses if r.status_code == 201]
        losers = [r for r in responses if r.status_code != 201]
        assert len(winners) == 1, [r.text for r in responses]
        [winner] = winners[0].json()["entries"]
        for loser in losers:
            body = assert_problem(loser, 409, "conflict")
            assert body["clashing_entry_id"] == winner["id"]
        assert await entry_count(time_db, team.member) == 2

    async def test_the_database_refuses_overlapping_intervals_itself(
        self, seed_entry: SeedEntry, time_db: ServiceInProcess, team: Team
    ) -> None:
        project_id = uuid.UUID(team.project["id"])
        await seed_entry(
            team.owner,
            user_id=team.member.user_id,
            project_id=project_id,
            day=LAST_WEEK,
            started_at=at(LAST_WEEK, 9),
            duration_seconds=HOUR,
        )

        with pytest.raises(asyncpg.ExclusionViolationError):
            await seed_entry(
                team.owner,
                user_id=team.member.user_id,
                project_id=project_id,
                day=LAST_WEEK,
                started_at=at(LAST_WEEK, 9, 59, 59),
                duration_seconds=HOUR,
            )


# --- projects and tasks ----------------------------------------------------------------------


class TestProjectsAndTasks:
    async def test_time_goes_only_on_projects_one_is_a_member_of(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_db: ServiceInProcess,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        outsider_project = tenant.new_project(status="active")
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        created = await log_interval(
            time_api, team.member, outsider_project, at(YESTERDAY, 11), at(YESTERDAY, 12)
        )
        moved = await time_api.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"project_id": outsider_project["id"]},
            headers=team.member.headers,
        )

        assert_problem(created, 403, "permission-denied")
        assert_problem(moved, 403, "permission-denied")
        assert await entry_count(time_db, team.member) == 1

    @pytest.mark.parametrize("status", ["completed", "archived", "on_hold"])
    async def test_a_project_that_is_not_open_for_work_takes_no_new_time(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
        status: str,
    ) -> None:
        closed = tenant.new_project(team.member, status=status)

        response = await log_interval(
            time_api, team.member, closed, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["project_status"] == status
        assert status in body["detail"]

    async def test_another_agencys_project_answers_exactly_like_an_unknown_one(
        self, in_process: InProcess, time_api: httpx.AsyncClient, team: Team, other_tenant: Agency
    ) -> None:
        theirs = other_tenant.new_project(status="active")

        foreign = await log(
            time_api, team.member, project_id=theirs["id"], date=YESTERDAY, duration_seconds=60
        )
        unknown = await log(
            time_api, team.member, project_id=str(uuid.uuid4()), date=YESTERDAY, duration_seconds=60
        )

        foreign_body = assert_invalid_fields(foreign, "project_id")
        unknown_body = assert_invalid_fields(unknown, "project_id")
        assert foreign_body["detail"] == unknown_body["detail"]
        assert foreign_body["errors"] == unknown_body["errors"]

    async def test_a_task_must_belong_to_the_project(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        team: Team,
        other_tenant: Agency,
    ) -> None:
        sibling = tenant.new_project(team.member, status="active")
        elsewhere = new_task(in_process, tenant, sibling)
        foreign = new_task(in_process, other_tenant, other_tenant.new_project())
        own = new_task(in_process, tenant, team.project)

        for task_id in (elsewhere["id"], foreign["id"], str(uuid.uuid4())):
            response = await log(
                time_api,
                team.member,
                project_id=team.project["id"],
                task_id=task_id,
                date=YESTERDAY,
                duration_seconds=60,
            )
            assert_invalid_fields(response, "task_id")
        fits = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            task_id=own["id"],
            date=YESTERDAY,
            duration_seconds=60,
        )
        assert fits.status_code == 201, fits.text

    async def test_an_edit_may_not_attach_another_projects_task(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sibling = tenant.new_project(team.member, status="active")
        elsewhere = new_task(in_process, tenant, sibling)
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        response = await time_api.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"task_id": elsewhere["id"]},
            headers=team.member.headers,
        )

        assert_invalid_fields(response, "task_id")


# --- submitted weeks -------------------------------------------------------------------------


class TestLockedWeeks:
    @pytest.mark.parametrize("status", ["submitted", "approved"])
    async def test_a_submitted_or_approved_week_takes_no_new_changed_or_removed_time(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team, status: str
    ) -> None:
        entry = await logged_one(
            await log_interval(
                time_api, team.member, team.project, at(LAST_WEEK, 9), at(LAST_WEEK, 10)
            )
        )
        await set_week_status(time_db, team.member, LAST_WEEK, status)
        path = f"/v1/time-entries/{entry['id']}"

        created = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            date=LAST_WEEK,
            duration_seconds=60,
        )
        edited = await time_api.patch(path, json={"description": "x"}, headers=team.member.headers)
        moved_out = await time_api.patch(
            path,
            json={
                "started_at": at(YESTERDAY, 9).isoformat(),
                "ended_at": at(YESTERDAY, 10).isoformat(),
            },
            headers=team.member.headers,
        )
        deleted = await time_api.delete(path, headers=team.member.headers)

        monday = LAST_WEEK - timedelta(days=LAST_WEEK.weekday())
        for response in (created, edited, moved_out, deleted):
            body = assert_problem(response, 409, "conflict")
            assert body["week_start"] == monday.isoformat()
            assert body["timesheet_status"] == status
        assert await entry_count(time_db, team.member) == 1

    async def test_a_rejected_week_is_open_again(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await set_week_status(time_db, team.member, LAST_WEEK, "rejected")

        response = await log(
            time_api,
            team.member,
            project_id=team.project["id"],
            date=LAST_WEEK,
            duration_seconds=60,
        )

        assert response.status_code == 201, response.text

    async def test_a_split_into_a_submitted_week_logs_nothing_at_all(
        self, time_db: ServiceInProcess, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        today = datetime.now(UTC).date()
        sunday = today - timedelta(days=today.weekday() + 1)  # last week's Sunday
        if sunday + timedelta(days=1) >= today:
            sunday -= timedelta(days=7)
        monday = sunday + timedelta(days=1)
        await set_week_status(time_db, team.member, monday, "submitted")

        response = await log_interval(
            time_api, team.member, team.project, at(sunday, 23), at(monday, 1)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["week_start"] == monday.isoformat()
        assert await entry_count(time_db, team.member) == 0
