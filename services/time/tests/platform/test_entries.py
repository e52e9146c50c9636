"""Time entries through the real gateway: logging (intervals and durations, the billable
default and client from work's project, the `time.entry.logged` event), bad input, and reading
and listing with filters (members their own, approvers everyone's). Editing, deleting and the
export: test_entry_editing.py; the integrity rules: test_entry_integrity.py."""

from __future__ import annotations

import uuid
from typing import Any

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
    new_team,
)


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    return await new_team(platform, gateway, agency)


# --- logging ----------------------------------------------------------------------------------


class TestLogging:
    async def test_an_interval_is_logged_with_its_day_duration_client_and_billable_default(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        task = await new_task(gateway, team.owner, team.project["id"])

        response = await log(
            gateway,
            team.member,
            project_id=team.project["id"],
            task_id=task["id"],
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
        assert entry["task_id"] == task["id"]
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
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await logged(
            gateway,
            team.member,
            project_id=team.project["id"],
            date=YESTERDAY.isoformat(),
            duration_seconds=5400,
        )

        assert (entry["date"], entry["duration_seconds"]) == (YESTERDAY.isoformat(), 5400)
        assert entry["started_at"] is None
        assert entry["ended_at"] is None

    async def test_a_fixed_price_project_makes_time_non_billable_unless_said_otherwise(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        fixed = await new_project(
            gateway, team.owner, team.member, billing_type="fixed", status="active"
        )

        default = await hour_on(gateway, team.member, fixed, hour=9)
        chosen = await hour_on(gateway, team.member, fixed, hour=11, is_billable=True)
        unbilled = await hour_on(gateway, team.member, team.project, hour=13, is_billable=False)

        assert default["is_billable"] is False
        assert default["client_id"] is None
        assert chosen["is_billable"] is True
        assert unbilled["is_billable"] is False

    async def test_logging_publishes_time_entry_logged(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        def mine(records: list[Any]) -> list[dict[str, Any]]:
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
            lambda rs: len(mine(rs)) >= 1,
        )
        [event] = mine(records)
        assert event["subject"] == f"time-entries/{entry['id']}"
        assert event["data"]["user_id"] == str(team.member.user_id)
        assert event["data"]["project_id"] == team.project["id"]
        assert event["data"]["client_id"] == str(team.client_id)
        assert event["data"]["date"] == YESTERDAY.isoformat()
        assert event["data"]["duration_seconds"] == HOUR
        assert event["data"]["is_billable"] is True

    async def test_each_write_is_in_the_audit_trail(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        [created] = await history(gateway, team.member, entry["id"])

        assert created["action"] == "created"
        assert created["actor_id"] == str(team.member.user_id)
        assert created["changes"]["duration_seconds"] == {"old": None, "new": HOUR}
        assert created["changes"]["status"] == {"old": None, "new": "draft"}


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "duration_seconds"),
            ({"duration_seconds": 600}, "date"),
            ({"started_at": at(YESTERDAY, 9)}, "ended_at"),
            ({"ended_at": at(YESTERDAY, 9)}, "started_at"),
            (
                {
                    "started_at": at(YESTERDAY, 9),
                    "ended_at": at(YESTERDAY, 10),
                    "duration_seconds": 1,
                },
                "duration_seconds",
            ),
            ({"started_at": at(YESTERDAY, 10), "ended_at": at(YESTERDAY, 9)}, "ended_at"),
            ({"started_at": at(YESTERDAY, 9), "ended_at": at(YESTERDAY, 9)}, "ended_at"),
            ({"started_at": f"{YESTERDAY}T09:00:00", "ended_at": at(YESTERDAY, 10)}, "started_at"),
            ({"date": YESTERDAY.isoformat(), "duration_seconds": 0}, "duration_seconds"),
            ({"date": YESTERDAY.isoformat(), "duration_seconds": -60}, "duration_seconds"),
            ({"date": "1999-12-31", "duration_seconds": 60}, "date"),
            ({"date": "yesterday", "duration_seconds": 60}, "date"),
            (
                {
                    "started_at": at(YESTERDAY, 9),
                    "ended_at": at(YESTERDAY, 10),
                    "date": LAST_WEEK.isoformat(),
                },
                "date",
            ),
            ({"date": YESTERDAY.isoformat(), "duration_seconds": 60, "user_id": "x"}, "user_id"),
            (
                {"date": YESTERDAY.isoformat(), "duration_seconds": 60, "description": "a\x00"},
                "description",
            ),
            (
                {"date": YESTERDAY.isoformat(), "duration_seconds": 60, "description": "x" * 5001},
                "description",
            ),
        ],
    )
    async def test_is_refused_naming_the_field(
        self, gateway: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str
    ) -> None:
        response = await log(gateway, team.member, project_id=team.project["id"], **body)

        assert_invalid_fields(response, field)

    async def test_a_malformed_project_id_is_refused(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        response = await log(
            gateway, team.member, project_id="nope", date=YESTERDAY.isoformat(), duration_seconds=60
        )

        assert_invalid_fields(response, "project_id")


# --- reading ----------------------------------------------------------------------------------


class TestReading:
    async def test_a_member_lists_only_their_own_entries(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        mine = await hour_on(gateway, team.member, team.project)
        await hour_on(gateway, team.colleague, team.project)

        page = await listing(gateway, team.member)

        assert [e["id"] for e in page["items"]] == [mine["id"]]
        assert page["total"] == 1

    async def test_a_member_asking_for_someone_elses_entries_is_refused(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await hour_on(gateway, team.colleague, team.project)

        response = await gateway.get(
            "/v1/time-entries",
            params={"user_id": str(team.colleague.user_id)},
            headers=team.member.headers,
        )

        assert_problem(response, 403, "permission-denied")

    async def test_an_approver_lists_everyones_and_picks_one_person(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        first = await hour_on(gateway, team.member, team.project, hour=9)
        second = await hour_on(gateway, team.colleague, team.project, hour=9)

        everyone = await listing(gateway, team.manager)
        one = await listing(gateway, team.manager, user_id=str(team.colleague.user_id))

        assert {e["id"] for e in everyone["items"]} == {first["id"], second["id"]}
        assert [e["id"] for e in one["items"]] == [second["id"]]

    async def test_filters_combine(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        other = await new_project(gateway, team.owner, team.member, status="active")
        task = await new_task(gateway, team.owner, team.project["id"])
        on_task = await hour_on(gateway, team.member, team.project, hour=8, task_id=task["id"])
        unbilled = await hour_on(gateway, team.member, team.project, hour=10, is_billable=False)
        elsewhere = await hour_on(gateway, team.member, other, hour=12)
        old = await hour_on(gateway, team.member, team.project, day=LAST_WEEK)
        approved = await seed_time_entry(
            platform,
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=LAST_WEEK,
            duration_seconds=600,
            status="approved",
        )

        def ids(page: dict[str, Any]) -> set[str]:
            return {e["id"] for e in page["items"]}

        project_only = await listing(gateway, team.member, project_id=team.project["id"])
        assert ids(project_only) == {on_task["id"], unbilled["id"], old["id"], str(approved)}
        assert ids(await listing(gateway, team.member, task_id=task["id"])) == {on_task["id"]}
        by_client = await listing(gateway, team.member, client_id=str(team.client_id))
        assert elsewhere["id"] not in ids(by_client)
        assert on_task["id"] in ids(by_client)
        assert ids(await listing(gateway, team.member, is_billable="false")) == {unbilled["id"]}
        assert ids(await listing(gateway, team.member, status="approved")) == {str(approved)}
        recent = await listing(
            gateway,
            team.member,
            date_from=YESTERDAY.isoformat(),
            date_to=YESTERDAY.isoformat(),
            project_id=team.project["id"],
        )
        assert ids(recent) == {on_task["id"], unbilled["id"]}

    async def test_lists_are_paginated_newest_day_first(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        old = await hour_on(gateway, team.member, team.project, day=LAST_WEEK)
        early = await hour_on(gateway, team.member, team.project, hour=8)
        late = await hour_on(gateway, team.member, team.project, hour=14)

        first = await listing(gateway, team.member, per_page=2)
        second = await listing(gateway, team.member, per_page=2, page=2)
        oldest_first = await listing(gateway, team.member, sort="date")

        assert [e["id"] for e in first["items"]] == [late["id"], early["id"]]
        assert [e["id"] for e in second["items"]] == [old["id"]]
        assert (first["total"], first["page"], first["per_page"]) == (3, 1, 2)
        assert [e["id"] for e in oldest_first["items"]] == [old["id"], early["id"], late["id"]]

    @pytest.mark.parametrize(
        "params",
        [
            {"status": "lost"},
            {"is_billable": "maybe"},
            {"date_from": "2026-11-10", "date_to": "2026-11-01"},
            {"per_page": 201},
            {"sort": "duration"},
            {"project_id": "nope"},
        ],
    )
    async def test_bad_filters_are_refused(
        self, gateway: httpx.AsyncClient, team: Team, params: dict[str, Any]
    ) -> None:
        response = await gateway.get("/v1/time-entries", params=params, headers=team.member.headers)

        body = assert_problem(response, 422, "invalid-input")
        assert body["errors"]

    async def test_one_entry_is_read_by_its_author_and_approvers_only(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        own = await gateway.get(path, headers=team.member.headers)
        managers = await gateway.get(path, headers=team.manager.headers)
        colleagues = await gateway.get(path, headers=team.colleague.headers)
        missing = await gateway.get(f"/v1/time-entries/{uuid.uuid4()}", headers=team.member.headers)

        assert own.json() == entry
        assert managers.json()["id"] == entry["id"]
        assert_problem(colleagues, 404, "not-found")
        assert_problem(missing, 404, "not-found")

    async def test_another_agency_sees_nothing(
        self, gateway: httpx.AsyncClient, team: Team, other_agency: AgencySession
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        one = await gateway.get(f"/v1/time-entries/{entry['id']}", headers=other_agency.headers)
        trail = await gateway.get(
            f"/v1/time-entries/{entry['id']}/history", headers=other_agency.headers
        )
        page = await listing(gateway, other_agency)

        assert_problem(one, 404, "not-found")
        assert_problem(trail, 404, "not-found")
        assert page["total"] == 0

    async def test_client_users_may_not_read_or_log_time(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        client_user = await add_member(platform, gateway, team.owner, "client")

        listed = await gateway.get("/v1/time-entries", headers=client_user.headers)
        exported = await gateway.get("/v1/time-entries/export", headers=client_user.headers)
        created = await log(
            gateway,
            client_user,
            project_id=team.project["id"],
            date=YESTERDAY.isoformat(),
            duration_seconds=60,
        )

        for response in (listed, exported, created):
            assert_problem(response, 403, "permission-denied")


# --- editing and deleting -----------------------------------------------------------------
