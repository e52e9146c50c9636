"""The time entry routes (`entry/endpoints.py`) in-process: bad input refused naming the
field, and reading and listing with filters, sorting and pages (members their own, approvers
everyone's, other agencies nothing, client users refused)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.time_entries import (
    LAST_WEEK,
    YESTERDAY,
    Team,
    at,
    hour_on,
    listing,
    log,
)

SeedEntry = Callable[..., Awaitable[uuid.UUID]]


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
        self, time_api: httpx.AsyncClient, team: Team, body: dict[str, Any], field: str
    ) -> None:
        response = await log(time_api, team.member, project_id=team.project["id"], **body)

        assert_invalid_fields(response, field)

    async def test_a_malformed_project_id_is_refused(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        response = await log(
            time_api,
            team.member,
            project_id="nope",
            date=YESTERDAY.isoformat(),
            duration_seconds=60,
        )

        assert_invalid_fields(response, "project_id")


class TestReading:
    async def test_a_member_lists_only_their_own_entries(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        mine = await hour_on(time_api, team.member, team.project)
        await hour_on(time_api, team.colleague, team.project)

        page = await listing(time_api, team.member)

        assert [e["id"] for e in page["items"]] == [mine["id"]]
        assert page["total"] == 1

    async def test_a_member_asking_for_someone_elses_entries_is_refused(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await hour_on(time_api, team.colleague, team.project)

        response = await time_api.get(
            "/v1/time-entries",
            params={"user_id": str(team.colleague.user_id)},
            headers=team.member.headers,
        )

        assert_problem(response, 403, "permission-denied")

    async def test_an_approver_lists_everyones_and_picks_one_person(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        first = await hour_on(time_api, team.member, team.project, hour=9)
        second = await hour_on(time_api, team.colleague, team.project, hour=9)

        everyone = await listing(time_api, team.manager)
        one = await listing(time_api, team.manager, user_id=str(team.colleague.user_id))

        assert {e["id"] for e in everyone["items"]} == {first["id"], second["id"]}
        assert [e["id"] for e in one["items"]] == [second["id"]]

    async def test_filters_combine(
        self,
        time_api: httpx.AsyncClient,
        in_process: InProcess,
        tenant: Agency,
        team: Team,
        seed_entry: SeedEntry,
    ) -> None:
        work = in_process.standins.work
        other = {"id": str(work.add_project(tenant.id, team.owner.user_id, team.member.user_id))}
        task_id = str(work.add_task(tenant.id, uuid.UUID(team.project["id"])))
        on_task = await hour_on(time_api, team.member, team.project, hour=8, task_id=task_id)
        unbilled = await hour_on(time_api, team.member, team.project, hour=10, is_billable=False)
        elsewhere = await hour_on(time_api, team.member, other, hour=12)
        old = await hour_on(time_api, team.member, team.project, day=LAST_WEEK)
        approved = await seed_entry(
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=LAST_WEEK,
            duration_seconds=600,
            status="approved",
        )

        def ids(page: dict[str, Any]) -> set[str]:
            return {e["id"] for e in page["items"]}

        project_only = await listing(time_api, team.member, project_id=team.project["id"])
        assert ids(project_only) == {on_task["id"], unbilled["id"], old["id"], str(approved)}
        assert ids(await listing(time_api, team.member, task_id=task_id)) == {on_task["id"]}
        by_client = await listing(time_api, team.member, client_id=str(team.client_id))
        assert elsewhere["id"] not in ids(by_client)
        assert on_task["id"] in ids(by_client)
        assert ids(await listing(time_api, team.member, is_billable="false")) == {unbilled["id"]}
        assert ids(await listing(time_api, team.member, status="approved")) == {str(approved)}
        recent = await listing(
            time_api,
            team.member,
            date_from=YESTERDAY.isoformat(),
            date_to=YESTERDAY.isoformat(),
            project_id=team.project["id"],
        )
        assert ids(recent) == {on_task["id"], unbilled["id"]}

    async def test_lists_are_paginated_newest_day_first(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        old = await hour_on(time_api, team.member, team.project, day=LAST_WEEK)
        early = await hour_on(time_api, team.member, team.project, hour=8)
        late = await hour_on(time_api, team.member, team.project, hour=14)

        first = await listing(time_api, team.member, per_page=2)
        second = await listing(time_api, team.member, per_page=2, page=2)
        oldest_first = await listing(time_api, team.member, sort="date")

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
        self, time_api: httpx.AsyncClient, team: Team, params: dict[str, Any]
    ) -> None:
        response = await time_api.get(
            "/v1/time-entries", params=params, headers=team.member.headers
        )

        body = assert_problem(response, 422, "invalid-input")
        assert body["errors"]

    async def test_one_entry_is_read_by_its_author_and_approvers_only(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)
        path = f"/v1/time-entries/{entry['id']}"

        own = await time_api.get(path, headers=team.member.headers)
        managers = await time_api.get(path, headers=team.manager.headers)
        colleagues = await time_api.get(path, headers=team.colleague.headers)
        missing = await time_api.get(
            f"/v1/time-entries/{uuid.uuid4()}", headers=team.member.headers
        )

        assert own.json() == entry
        assert managers.json()["id"] == entry["id"]
        assert_problem(colleagues, 404, "not-found")
        assert_problem(missing, 404, "not-found")

    async def test_another_agency_sees_nothing(
        self, time_api: httpx.AsyncClient, team: Team, other_agency: Caller
    ) -> None:
        entry = await hour_on(time_api, team.member, team.project)

        one = await time_api.get(f"/v1/time-entries/{entry['id']}", headers=other_agency.headers)
        trail = await time_api.get(
            f"/v1/time-entries/{entry['id']}/history", headers=other_agency.headers
        )
        page = await listing(time_api, other_agency)

        assert_problem(one, 404, "not-found")
        assert_problem(trail, 404, "not-found")
        assert page["total"] == 0

    async def test_client_users_may_not_read_or_log_time(
        self, time_api: httpx.AsyncClient, tenant: Agency, team: Team
    ) -> None:
        client_user = tenant.caller("client")

        listed = await time_api.get("/v1/time-entries", headers=client_user.headers)
        exported = await time_api.get("/v1/time-entries/export", headers=client_user.headers)
        created = await log(
            time_api,
            client_user,
            project_id=team.project["id"],
            date=YESTERDAY.isoformat(),
            duration_seconds=60,
        )

        for response in (listed, exported, created):
            assert_problem(response, 403, "permission-denied")
