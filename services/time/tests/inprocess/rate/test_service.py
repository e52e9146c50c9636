"""Adding and deleting rates (`rate/service.py`): a scope names exactly its targets, which must
be the agency's own people and projects (as identity and work answer), one rate per kind, scope
and day even when requests race, listing with filters and pages, and only what is not yet in
effect (in the agency's timezone) may be deleted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.rates import create_rate, list_rates, rate_fields


class TestAddingRates:
    async def test_a_manager_adds_rates_of_every_scope_and_filters_them(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        manager = tenant.caller("manager")
        person = tenant.caller("member")
        project = tenant.new_project(person)
        other_project = tenant.new_project()

        agency_rate = await create_rate(
            time_api, manager, **rate_fields("agency", 10_000, "2026-01-01")
        )
        member_rate = await create_rate(
            time_api, manager, **rate_fields("member", 12_000, "2026-01-01", user=person)
        )
        project_rate = await create_rate(
            time_api, manager, **rate_fields("project", 14_000, "2026-01-01", project=project)
        )
        pair_rate = await create_rate(
            time_api,
            manager,
            **rate_fields("project_member", 20_000, "2026-01-01", user=person, project=project),
        )
        cost_rate = await create_rate(
            time_api,
            manager,
            **rate_fields("member", 6_000, "2026-01-01", kind="cost", user=person),
        )
        later_agency_rate = await create_rate(
            time_api, manager, **rate_fields("agency", 11_000, "2026-07-01")
        )
        await create_rate(
            time_api, manager, **rate_fields("project", 9_000, "2026-01-01", project=other_project)
        )

        assert pair_rate["kind"] == "billable"
        assert pair_rate["scope"] == "project_member"
        assert pair_rate["user_id"] == str(person.user_id)
        assert pair_rate["project_id"] == project["id"]
        assert pair_rate["hourly_rate_cents"] == 20_000
        assert pair_rate["effective_from"] == "2026-01-01"
        assert pair_rate["created_by"] == str(manager.user_id)

        def ids(page: dict[str, Any]) -> list[str]:
            return [r["id"] for r in page["items"]]

        everything = await list_rates(time_api, manager)
        assert everything["total"] == 7
        costs = await list_rates(time_api, manager, kind="cost")
        assert ids(costs) == [cost_rate["id"]]
        agency_wide = await list_rates(time_api, manager, scope="agency")
        # newest first within a scope
        assert ids(agency_wide) == [later_agency_rate["id"], agency_rate["id"]]
        of_person = await list_rates(time_api, manager, user_id=str(person.user_id))
        assert set(ids(of_person)) == {member_rate["id"], pair_rate["id"], cost_rate["id"]}
        of_project = await list_rates(time_api, manager, project_id=project["id"])
        assert set(ids(of_project)) == {project_rate["id"], pair_rate["id"]}
        both = await list_rates(
            time_api,
            manager,
            kind="billable",
            user_id=str(person.user_id),
            project_id=project["id"],
        )
        assert ids(both) == [pair_rate["id"]]
        paged = await list_rates(time_api, manager, per_page=2, page=2)
        assert (paged["total"], len(paged["items"]), paged["page"]) == (7, 2, 2)

        fetched = await time_api.get(f"/v1/rates/{pair_rate['id']}", headers=manager.headers)
        assert fetched.status_code == 200
        assert fetched.json() == pair_rate

    @pytest.mark.parametrize(
        ("fields", "bad"),
        [
            ({"scope": "agency", "user_id": "U"}, {"user_id"}),
            ({"scope": "agency", "project_id": "P"}, {"project_id"}),
            ({"scope": "member"}, {"user_id"}),
            ({"scope": "member", "user_id": "U", "project_id": "P"}, {"project_id"}),
            ({"scope": "project"}, {"project_id"}),
            ({"scope": "project", "user_id": "U", "project_id": "P"}, {"user_id"}),
            ({"scope": "project_member"}, {"user_id", "project_id"}),
            ({"scope": "project_member", "user_id": "U"}, {"project_id"}),
            ({"kind": "cost", "scope": "project", "project_id": "P"}, {"scope"}),
            (
                {"kind": "cost", "scope": "project_member", "user_id": "U", "project_id": "P"},
                {"scope"},
            ),
            ({"scope": "team"}, {"scope"}),
            ({"kind": "price"}, {"kind"}),
            ({"hourly_rate_cents": -1}, {"hourly_rate_cents"}),
            ({"hourly_rate_cents": "lots"}, {"hourly_rate_cents"}),
            ({"effective_from": "2026-02-30"}, {"effective_from"}),
            ({"currency": "EUR"}, {"currency"}),
        ],
    )
    async def test_a_scope_must_name_exactly_its_targets(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        agency: Caller,
        fields: dict[str, Any],
        bad: set[str],
    ) -> None:
        person = tenant.caller("member")
        project = tenant.new_project(person)
        body: dict[str, Any] = {
            "kind": "billable",
            "scope": "agency",
            "hourly_rate_cents": 10_000,
            "effective_from": "2026-01-01",
        }
        body.update(fields)
        for key, value in list(body.items()):
            if value == "U":
                body[key] = str(person.user_id)
            elif value == "P":
                body[key] = project["id"]

        response = await time_api.post("/v1/rates", json=body, headers=agency.headers)

        assert_invalid_fields(response, *bad)
        assert (await list_rates(time_api, agency))["total"] == 0

    async def test_targets_outside_the_agency_are_refused(
        self,
        in_process: InProcess,
        tenant: Agency,
        other_tenant: Agency,
        time_api: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        their_person = other_tenant.caller("member")
        their_project = other_tenant.new_project()
        client_user = tenant.caller("client")
        own_person = tenant.caller("member")

        async def attempt(**fields: Any) -> httpx.Response:
            return await time_api.post(
                "/v1/rates",
                json={"kind": "billable", "hourly_rate_cents": 1, "effective_from": "2026-01-01"}
                | fields,
                headers=agency.headers,
            )

        assert_invalid_fields(
            await attempt(scope="member", user_id=str(their_person.user_id)), "user_id"
        )
        assert_invalid_fields(await attempt(scope="member", user_id=str(uuid.uuid4())), "user_id")
        assert_invalid_fields(
            await attempt(scope="member", user_id=str(client_user.user_id)), "user_id"
        )
        assert_invalid_fields(
            await attempt(scope="project", project_id=their_project["id"]), "project_id"
        )
        assert_invalid_fields(
            await attempt(
                scope="project_member",
                user_id=str(their_person.user_id),
                project_id=their_project["id"],
            ),
            "user_id",
            "project_id",
        )
        assert (await list_rates(time_api, agency))["total"] == 0
        # the same shape with the agency's own person is fine
        ok = await attempt(scope="member", user_id=str(own_person.user_id))
        assert ok.status_code == 201, ok.text

    async def test_one_rate_per_kind_scope_and_day(
        self, tenant: Agency, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        person = tenant.caller("member")
        first = await create_rate(
            time_api, agency, **rate_fields("member", 12_000, "2026-03-01", user=person)
        )

        again = await time_api.post(
            "/v1/rates",
            json=rate_fields("member", 13_000, "2026-03-01", user=person),
            headers=agency.headers,
        )

        body = assert_problem(again, 409, "conflict")
        assert body["rate_id"] == first["id"]
        # another day, another kind or another person is a different rate
        await create_rate(
            time_api, agency, **rate_fields("member", 13_000, "2026-03-02", user=person)
        )
        await create_rate(
            time_api, agency, **rate_fields("member", 5_000, "2026-03-01", kind="cost", user=person)
        )
        await create_rate(
            time_api, agency, **rate_fields("member", 12_000, "2026-03-01", user=agency)
        )
        assert (await list_rates(time_api, agency))["total"] == 4

    async def test_two_racing_requests_for_the_same_scope_and_day_make_one_rate(
        self, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = rate_fields("agency", 10_000, "2026-05-01")

        responses = await asyncio.gather(
            *[time_api.post("/v1/rates", json=body, headers=agency.headers) for _ in range(6)]
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409, "conflict")
        assert (await list_rates(time_api, agency))["total"] == 1


class TestDeletingRates:
    async def test_a_rate_not_yet_in_effect_can_be_deleted(
        self, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        future = await create_rate(time_api, agency, **rate_fields("agency", 10_000, "2099-01-01"))

        deleted = await time_api.delete(f"/v1/rates/{future['id']}", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        gone = await time_api.get(f"/v1/rates/{future['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")
        again = await time_api.delete(f"/v1/rates/{future['id']}", headers=agency.headers)
        assert_problem(again, 404, "not-found")

    async def test_a_rate_in_effect_is_history_and_stays(
        self, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        today = datetime.now(UTC).date()  # a new agency's timezone is UTC
        past = await create_rate(time_api, agency, **rate_fields("agency", 10_000, "2026-01-01"))
        current = await create_rate(
            time_api, agency, **rate_fields("agency", 11_000, today.isoformat())
        )

        for rate in (past, current):
            response = await time_api.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert_problem(response, 409, "conflict")
            assert "supersede" in response.json()["detail"]
        assert (await list_rates(time_api, agency))["total"] == 2

    async def test_today_is_the_agencys_today_not_utcs(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        # A zone whose date differs from UTC's right now: ahead of UTC late in the UTC day,
        # behind it early in the day.
        utc_now = datetime.now(UTC)
        zone = "Pacific/Kiritimati" if utc_now.hour >= 10 else "Pacific/Pago_Pago"
        # the agency's timezone, as identity answers it
        in_process.standins.identity.add_agency(tenant.id, timezone=zone)
        local_today = datetime.now(ZoneInfo(zone)).date()
        utc_today = datetime.now(UTC).date()
        assert local_today != utc_today

        if local_today > utc_today:
            # still tomorrow in UTC, but already in effect where the agency is
            rate = await create_rate(
                time_api, agency, **rate_fields("agency", 10_000, local_today.isoformat())
            )
            response = await time_api.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert_problem(response, 409, "conflict")
        else:
            # already in effect in UTC, but not yet where the agency is
            rate = await create_rate(
                time_api, agency, **rate_fields("agency", 10_000, utc_today.isoformat())
            )
            response = await time_api.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert response.status_code == 204, response.text
