"""Every integrity rule of time entries, each with a test that tries to break it, through the
real gateway (and, where PostgreSQL holds the rule too, straight against the database): no
time dated after the agency's today in its own timezone, at most 12 hours an entry, one entry
per day for an interval across the agency's midnight, no overlapping intervals of one person
(also under concurrent requests: exactly one wins), time only on projects the person is a
member of and that are open for work, tasks of that project only, nothing into a submitted
week, and other agencies' ids answering as if they did not exist."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
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
from agencyos.testing.sql import fetch_value
from agencyos.testing.timezones import set_timezone, zone_where_it_is

HOUR = 3600
TWELVE_HOURS = 12 * HOUR
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
LAST_WEEK = YESTERDAY - timedelta(days=7)


def at(day: date, hour: int, minute: int = 0, second: int = 0, zone: str = "UTC") -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=ZoneInfo(zone))


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    member: AgencySession
    project: dict[str, Any]


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    member = await add_member(platform, gateway, agency, "member")
    project = await new_project(gateway, agency, member, billing_type="hourly", status="active")
    return Team(agency, member, project)


async def log(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> httpx.Response:
    for name in ("started_at", "ended_at"):
        if isinstance(body.get(name), datetime):
            body[name] = body[name].isoformat()
    if isinstance(body.get("date"), date):
        body["date"] = body["date"].isoformat()
    return await gateway.post("/v1/time-entries", json=body, headers=who.headers)


async def log_interval(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    project: dict[str, Any],
    started_at: datetime,
    ended_at: datetime,
    **body: Any,
) -> httpx.Response:
    return await log(
        gateway, who, project_id=project["id"], started_at=started_at, ended_at=ended_at, **body
    )


async def logged_one(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    [entry] = response.json()["entries"]
    return dict(entry)


async def entry_count(platform: Platform, who: AgencySession) -> int:
    count = await fetch_value(
        platform.infra,
        platform.database("time"),
        "SELECT count(*) FROM time_entries WHERE user_id = $1",
        who.user_id,
        tenant_id=who.agency_id,
        owner=True,
    )
    return int(count)


async def set_week_status(platform: Platform, who: AgencySession, day: date, status: str) -> None:
    """The timesheet of `who`'s week containing `day` in `status`, set straight in time's
    database (the approval flow is tested with timesheets)."""
    monday = day - timedelta(days=day.weekday())
    await fetch_value(
        platform.infra,
        platform.database("time"),
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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        # 25 hours apart: Kiritimati's today is always a day (or two) after Pago Pago's
        kiritimati_today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
        await set_timezone(gateway, agency, "Pacific/Kiritimati")
        await set_timezone(gateway, other_agency, "Pacific/Pago_Pago")
        ahead = await new_project(gateway, agency, status="active")
        behind = await new_project(gateway, other_agency, status="active")

        accepted = await log(
            gateway, agency, project_id=ahead["id"], date=kiritimati_today, duration_seconds=1
        )
        refused = await log(
            gateway,
            other_agency,
            project_id=behind["id"],
            date=kiritimati_today,
            duration_seconds=1,
        )

        assert accepted.status_code == 201, accepted.text
        body = assert_invalid_fields(refused, "date")
        assert "future" in body["detail"]

    async def test_an_interval_ending_after_now_is_refused(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        now = datetime.now(UTC)

        response = await log_interval(
            gateway, team.member, team.project, now - timedelta(hours=1), now + timedelta(minutes=5)
        )

        assert_invalid_fields(response, "ended_at")

    async def test_today_holds_no_more_time_than_has_passed_since_its_midnight(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        zone = zone_where_it_is(1)  # between 1 and 2 hours of today have passed
        await set_timezone(gateway, team.owner, zone)
        today = datetime.now(ZoneInfo(zone)).date()

        too_long = await log(
            gateway,
            team.member,
            project_id=team.project["id"],
            date=today,
            duration_seconds=3 * HOUR,
        )
        fits = await log(
            gateway, team.member, project_id=team.project["id"], date=today, duration_seconds=1800
        )

        assert_invalid_fields(too_long, "duration_seconds")
        assert fits.status_code == 201, fits.text

    async def test_an_edit_may_not_move_an_entry_into_the_future(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )
        tomorrow = datetime.now(UTC).date() + timedelta(days=1)

        moved = await gateway.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"started_at": None, "ended_at": None, "date": tomorrow.isoformat()},
            headers=team.member.headers,
        )

        assert_invalid_fields(moved, "date")


# --- at most 12 hours -------------------------------------------------------------------------


class TestTwelveHours:
    async def test_twelve_hours_is_the_most_an_entry_holds(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        project = team.project["id"]

        longest = await log(
            gateway, team.member, project_id=project, date=LAST_WEEK, duration_seconds=TWELVE_HOURS
        )
        longer = await log(
            gateway,
            team.member,
            project_id=project,
            date=LAST_WEEK,
            duration_seconds=TWELVE_HOURS + 1,
        )
        interval = await log_interval(
            gateway, team.member, team.project, at(YESTERDAY, 6), at(YESTERDAY, 18)
        )
        longer_interval = await log_interval(
            gateway,
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
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        stretched = await gateway.patch(
            f"/v1/time-entries/{entry['id']}",
            json={
                "started_at": at(YESTERDAY, 0).isoformat(),
                "ended_at": at(YESTERDAY, 12, 30).isoformat(),
            },
            headers=team.member.headers,
        )

        assert_invalid_fields(stretched, "ended_at")

    async def test_the_database_refuses_more_than_twelve_hours_itself(
        self, platform: Platform, team: Team
    ) -> None:
        with pytest.raises(asyncpg.CheckViolationError):
            await seed_time_entry(
                platform,
                team.owner,
                user_id=team.member.user_id,
                project_id=uuid.UUID(team.project["id"]),
                day=LAST_WEEK,
                duration_seconds=TWELVE_HOURS + 1,
            )


# --- one entry per day --------------------------------------------------------------------------


class TestMidnightSplit:
    async def test_an_interval_across_the_agencys_midnight_becomes_one_entry_per_day(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        zone = "America/New_York"
        await set_timezone(gateway, team.owner, zone)
        first_day = YESTERDAY - timedelta(days=2)
        second_day = first_day + timedelta(days=1)

        response = await log_interval(
            gateway,
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

        def logged(records: list[Any]) -> list[dict[str, Any]]:
            ids = {first["id"], second["id"]}
            return [
                e
                for e in events_where(
                    records, tenantid=str(team.owner.agency_id), type="time.entry.logged"
                )
                if e["data"]["entry_id"] in ids
            ]

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}time.events",
            lambda rs: len(logged(rs)) >= 2,
        )
        assert sorted(e["data"]["duration_seconds"] for e in logged(records)) == [4500, 5400]

    async def test_utc_midnight_is_not_the_agencys_midnight(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        zone = "America/New_York"
        await set_timezone(gateway, team.owner, zone)
        day = YESTERDAY - timedelta(days=2)

        # 18:00 to 21:00 in New York crosses midnight in UTC, not in New York
        response = await log_interval(
            gateway, team.member, team.project, at(day, 18, zone=zone), at(day, 21, zone=zone)
        )

        entry = await logged_one(response)
        assert response.json()["split"] is False
        assert (entry["date"], entry["duration_seconds"]) == (day.isoformat(), 3 * HOUR)

    async def test_an_edit_may_not_stretch_an_entry_across_midnight(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(LAST_WEEK, 21), at(LAST_WEEK, 23)
            )
        )

        stretched = await gateway.patch(
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
        platform: Platform,
        gateway: httpx.AsyncClient,
        team: Team,
        start: tuple[int, int],
        end: tuple[int, int],
    ) -> None:
        existing = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        response = await log_interval(
            gateway, team.member, team.project, at(YESTERDAY, *start), at(YESTERDAY, *end)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["clashing_entry_id"] == existing["id"]
        assert existing["id"] in body["detail"]
        assert await entry_count(platform, team.member) == 1

    async def test_intervals_that_only_touch_do_not_overlap(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        before = await log_interval(
            gateway, team.member, team.project, at(YESTERDAY, 8), at(YESTERDAY, 9)
        )
        after = await log_interval(
            gateway, team.member, team.project, at(YESTERDAY, 10), at(YESTERDAY, 11)
        )
        duration = await log(
            gateway,
            team.member,
            project_id=team.project["id"],
            date=YESTERDAY,
            duration_seconds=HOUR,
        )

        for response in (before, after, duration):
            assert response.status_code == 201, response.text

    async def test_two_people_may_work_at_the_same_time(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        colleague = await add_member(platform, gateway, team.owner, "member")
        project = await new_project(gateway, team.owner, team.member, colleague, status="active")

        mine = await log_interval(
            gateway, team.member, project, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )
        theirs = await log_interval(
            gateway, colleague, project, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )

        assert (mine.status_code, theirs.status_code) == (201, 201)

    async def test_an_edit_into_another_entrys_time_is_refused(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        first = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )
        second = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 11), at(YESTERDAY, 12)
            )
        )

        moved = await gateway.patch(
            f"/v1/time-entries/{second['id']}",
            json={"started_at": at(YESTERDAY, 9, 59).isoformat()},
            headers=team.member.headers,
        )
        own_time = await gateway.patch(
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
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        started = await gateway.post(
            "/v1/timers/start", json={"project_id": team.project["id"]}, headers=team.member.headers
        )
        assert started.status_code == 201, started.text
        await fetch_value(
            platform.infra,
            platform.database("time"),
            "UPDATE timers SET started_at = now() - interval '2 hours' WHERE user_id = $1 "
            "RETURNING id",
            team.member.user_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        now = datetime.now(UTC)

        into = await log_interval(
            gateway, team.member, team.project, now - timedelta(hours=3), now - timedelta(hours=1)
        )
        before = await log_interval(
            gateway, team.member, team.project, now - timedelta(hours=4), now - timedelta(hours=3)
        )

        body = assert_problem(into, 409, "conflict")
        assert body["clashing_timer_id"] == started.json()["timer"]["id"]
        assert before.status_code == 201, before.text

    async def test_of_concurrent_overlapping_requests_exactly_one_wins(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        # the week's timesheet exists already, so nothing but the entries themselves can
        # make the requests wait for each other
        await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(LAST_WEEK, 6), at(LAST_WEEK, 7)
            )
        )
        attempts = [
            log_interval(
                gateway,
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
        assert await entry_count(platform, team.member) == 2

    async def test_the_database_refuses_overlapping_intervals_itself(
        self, platform: Platform, team: Team
    ) -> None:
        project_id = uuid.UUID(team.project["id"])
        await seed_time_entry(
            platform,
            team.owner,
            user_id=team.member.user_id,
            project_id=project_id,
            day=LAST_WEEK,
            started_at=at(LAST_WEEK, 9),
            duration_seconds=HOUR,
        )

        with pytest.raises(asyncpg.ExclusionViolationError):
            await seed_time_entry(
                platform,
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
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        outsider_project = await new_project(gateway, team.owner, status="active")
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        created = await log_interval(
            gateway, team.member, outsider_project, at(YESTERDAY, 11), at(YESTERDAY, 12)
        )
        moved = await gateway.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"project_id": outsider_project["id"]},
            headers=team.member.headers,
        )

        assert_problem(created, 403, "permission-denied")
        assert_problem(moved, 403, "permission-denied")
        assert await entry_count(platform, team.member) == 1

    @pytest.mark.parametrize("status", ["completed", "archived", "on_hold"])
    async def test_a_project_that_is_not_open_for_work_takes_no_new_time(
        self, gateway: httpx.AsyncClient, team: Team, status: str
    ) -> None:
        closed = await new_project(gateway, team.owner, team.member, status=status)

        response = await log_interval(
            gateway, team.member, closed, at(YESTERDAY, 9), at(YESTERDAY, 10)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["project_status"] == status
        assert status in body["detail"]

    async def test_another_agencys_project_answers_exactly_like_an_unknown_one(
        self, gateway: httpx.AsyncClient, team: Team, other_agency: AgencySession
    ) -> None:
        theirs = await new_project(gateway, other_agency, status="active")

        foreign = await log(
            gateway, team.member, project_id=theirs["id"], date=YESTERDAY, duration_seconds=60
        )
        unknown = await log(
            gateway, team.member, project_id=str(uuid.uuid4()), date=YESTERDAY, duration_seconds=60
        )

        foreign_body = assert_invalid_fields(foreign, "project_id")
        unknown_body = assert_invalid_fields(unknown, "project_id")
        assert foreign_body["detail"] == unknown_body["detail"]
        assert foreign_body["errors"] == unknown_body["errors"]

    async def test_a_task_must_belong_to_the_project(
        self, gateway: httpx.AsyncClient, team: Team, other_agency: AgencySession
    ) -> None:
        sibling = await new_project(gateway, team.owner, team.member, status="active")
        elsewhere = await new_task(gateway, team.owner, sibling["id"])
        foreign = await new_task(
            gateway, other_agency, (await new_project(gateway, other_agency))["id"]
        )
        own = await new_task(gateway, team.owner, team.project["id"])

        for task_id in (elsewhere["id"], foreign["id"], str(uuid.uuid4())):
            response = await log(
                gateway,
                team.member,
                project_id=team.project["id"],
                task_id=task_id,
                date=YESTERDAY,
                duration_seconds=60,
            )
            assert_invalid_fields(response, "task_id")
        fits = await log(
            gateway,
            team.member,
            project_id=team.project["id"],
            task_id=own["id"],
            date=YESTERDAY,
            duration_seconds=60,
        )
        assert fits.status_code == 201, fits.text

    async def test_an_edit_may_not_attach_another_projects_task(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        sibling = await new_project(gateway, team.owner, team.member, status="active")
        elsewhere = await new_task(gateway, team.owner, sibling["id"])
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(YESTERDAY, 9), at(YESTERDAY, 10)
            )
        )

        response = await gateway.patch(
            f"/v1/time-entries/{entry['id']}",
            json={"task_id": elsewhere["id"]},
            headers=team.member.headers,
        )

        assert_invalid_fields(response, "task_id")


# --- submitted weeks -------------------------------------------------------------------------


class TestLockedWeeks:
    @pytest.mark.parametrize("status", ["submitted", "approved"])
    async def test_a_submitted_or_approved_week_takes_no_new_changed_or_removed_time(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team, status: str
    ) -> None:
        entry = await logged_one(
            await log_interval(
                gateway, team.member, team.project, at(LAST_WEEK, 9), at(LAST_WEEK, 10)
            )
        )
        await set_week_status(platform, team.member, LAST_WEEK, status)
        path = f"/v1/time-entries/{entry['id']}"

        created = await log(
            gateway, team.member, project_id=team.project["id"], date=LAST_WEEK, duration_seconds=60
        )
        edited = await gateway.patch(path, json={"description": "x"}, headers=team.member.headers)
        moved_out = await gateway.patch(
            path,
            json={
                "started_at": at(YESTERDAY, 9).isoformat(),
                "ended_at": at(YESTERDAY, 10).isoformat(),
            },
            headers=team.member.headers,
        )
        deleted = await gateway.delete(path, headers=team.member.headers)

        monday = LAST_WEEK - timedelta(days=LAST_WEEK.weekday())
        for response in (created, edited, moved_out, deleted):
            body = assert_problem(response, 409, "conflict")
            assert body["week_start"] == monday.isoformat()
            assert body["timesheet_status"] == status
        assert await entry_count(platform, team.member) == 1

    async def test_a_rejected_week_is_open_again(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await set_week_status(platform, team.member, LAST_WEEK, "rejected")

        response = await log(
            gateway, team.member, project_id=team.project["id"], date=LAST_WEEK, duration_seconds=60
        )

        assert response.status_code == 201, response.text

    async def test_a_split_into_a_submitted_week_logs_nothing_at_all(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        today = datetime.now(UTC).date()
        sunday = today - timedelta(days=today.weekday() + 1)  # last week's Sunday
        if sunday + timedelta(days=1) >= today:
            sunday -= timedelta(days=7)
        monday = sunday + timedelta(days=1)
        await set_week_status(platform, team.member, monday, "submitted")

        response = await log_interval(
            gateway, team.member, team.project, at(sunday, 23), at(monday, 1)
        )

        body = assert_problem(response, 409, "conflict")
        assert body["week_start"] == monday.isoformat()
        assert await entry_count(platform, team.member) == 0
