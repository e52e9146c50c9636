"""Time entries through the real gateway: logging (intervals and durations, the billable
default and client from work's project, the `time.entry.logged` event), bad input, reading
and listing with filters (members their own, approvers everyone's), editing and deleting
only one's own draft or rejected entries, the audit trail, and the CSV export with its
formula guard. The integrity rules have their own file (test_entry_integrity.py)."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from agencyos.common.testing.factories import (
    AgencySession,
    add_member,
    create_crm_client,
    new_project,
    new_task,
    seed_time_entry,
)
from agencyos.common.testing.http import assert_invalid_fields, assert_problem
from agencyos.common.testing.kafka import events_where, read_topic
from agencyos.common.testing.platform import Platform
from agencyos.common.testing.sql import fetch_value

HOUR = 3600
# Days safely in the past whatever the hour (the agencies here keep the default UTC zone).
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
LAST_WEEK = YESTERDAY - timedelta(days=7)


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    manager: AgencySession
    member: AgencySession
    colleague: AgencySession
    project: dict[str, Any]
    client_id: uuid.UUID


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    manager = await add_member(platform, gateway, agency, "manager")
    member = await add_member(platform, gateway, agency, "member")
    colleague = await add_member(platform, gateway, agency, "member")
    client_id = await create_crm_client(platform, agency)
    project = await new_project(
        gateway,
        agency,
        manager,
        member,
        colleague,
        client_id=str(client_id),
        billing_type="hourly",
        status="active",
    )
    return Team(agency, manager, member, colleague, project, client_id)


async def log(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> httpx.Response:
    return await gateway.post("/v1/time-entries", json=body, headers=who.headers)


async def logged(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> dict[str, Any]:
    """The one entry a successful log request made."""
    response = await log(gateway, who, **body)
    assert response.status_code == 201, response.text
    [entry] = response.json()["entries"]
    return dict(entry)


async def hour_on(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    project: dict[str, Any],
    day: date = YESTERDAY,
    hour: int = 9,
    **fields: Any,
) -> dict[str, Any]:
    return await logged(
        gateway,
        who,
        project_id=project["id"],
        started_at=at(day, hour),
        ended_at=at(day, hour + 1),
        **fields,
    )


async def listing(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> dict[str, Any]:
    response = await gateway.get("/v1/time-entries", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(
    gateway: httpx.AsyncClient, who: AgencySession, entry_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(f"/v1/time-entries/{entry_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


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


async def entry_in_status(platform: Platform, team: Team, status: str) -> uuid.UUID:
    """The member's entry last week in `status`, set straight in time's database (an
    invoiced one with an invoice id)."""
    entry_id = await seed_time_entry(
        platform,
        team.owner,
        user_id=team.member.user_id,
        project_id=uuid.UUID(team.project["id"]),
        day=LAST_WEEK,
        duration_seconds=HOUR,
        status="approved" if status == "invoiced" else status,
    )
    if status == "invoiced":
        await fetch_value(
            platform.infra,
            platform.database("time"),
            "UPDATE time_entries SET status = 'invoiced', invoice_id = $1 WHERE id = $2 "
            "RETURNING id",
            uuid.uuid4(),
            entry_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
    return entry_id


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


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


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
