"""Rates through the real gateway: adding them (scopes and their targets, one per scope and
day, even when two requests race), listing with filters, deleting only what is not yet in
effect (in the agency's timezone), resolution precedence and effective dates against
hand-computed values, and that a rate change never changes what approved time is worth;
members and other agencies get nothing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import grpc
import httpx
import pytest

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    create_crm_client,
    new_project,
    seed_time_entry,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.platform import Platform


async def create_rate(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    response = await gateway.post("/v1/rates", json=fields, headers=who.headers)
    assert response.status_code == 201, response.text
    rate: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/rates/{rate['id']}"
    return rate


async def list_rates(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    response = await gateway.get("/v1/rates", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def resolve(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    user_id: uuid.UUID,
    project_id: str,
    day: str | None = None,
) -> dict[str, Any]:
    params = {"user_id": str(user_id), "project_id": project_id}
    if day is not None:
        params["date"] = day
    response = await gateway.get("/v1/rates/resolve", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rate_fields(
    scope: str,
    cents: int,
    effective_from: str,
    *,
    kind: str = "billable",
    user: AgencySession | None = None,
    project: dict[str, Any] | None = None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": kind,
        "scope": scope,
        "hourly_rate_cents": cents,
        "effective_from": effective_from,
    }
    if user is not None:
        fields["user_id"] = str(user.user_id)
    if project is not None:
        fields["project_id"] = project["id"]
    return fields


async def set_agency_timezone(platform: Platform, who: AgencySession, zone: str) -> None:
    """identity has no route for the agency's timezone yet: write it where identity keeps it
    (under the agency's tenant, as row-level security requires)."""
    conn = await platform.infra.raw(platform.database("identity"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(who.agency_id))
            await conn.execute(
                "UPDATE agencies SET timezone = $1 WHERE id = $2", zone, who.agency_id
            )
    finally:
        await conn.close()


class TestAddingRates:
    async def test_a_manager_adds_rates_of_every_scope_and_filters_them(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        person = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, person)
        other_project = await new_project(gateway, agency)

        agency_rate = await create_rate(
            gateway, manager, **rate_fields("agency", 10_000, "2026-01-01")
        )
        member_rate = await create_rate(
            gateway, manager, **rate_fields("member", 12_000, "2026-01-01", user=person)
        )
        project_rate = await create_rate(
            gateway, manager, **rate_fields("project", 14_000, "2026-01-01", project=project)
        )
        pair_rate = await create_rate(
            gateway,
            manager,
            **rate_fields("project_member", 20_000, "2026-01-01", user=person, project=project),
        )
        cost_rate = await create_rate(
            gateway,
            manager,
            **rate_fields("member", 6_000, "2026-01-01", kind="cost", user=person),
        )
        later_agency_rate = await create_rate(
            gateway, manager, **rate_fields("agency", 11_000, "2026-07-01")
        )
        await create_rate(
            gateway, manager, **rate_fields("project", 9_000, "2026-01-01", project=other_project)
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

        everything = await list_rates(gateway, manager)
        assert everything["total"] == 7
        costs = await list_rates(gateway, manager, kind="cost")
        assert ids(costs) == [cost_rate["id"]]
        agency_wide = await list_rates(gateway, manager, scope="agency")
        # newest first within a scope
        assert ids(agency_wide) == [later_agency_rate["id"], agency_rate["id"]]
        of_person = await list_rates(gateway, manager, user_id=str(person.user_id))
        assert set(ids(of_person)) == {member_rate["id"], pair_rate["id"], cost_rate["id"]}
        of_project = await list_rates(gateway, manager, project_id=project["id"])
        assert set(ids(of_project)) == {project_rate["id"], pair_rate["id"]}
        both = await list_rates(
            gateway, manager, kind="billable", user_id=str(person.user_id), project_id=project["id"]
        )
        assert ids(both) == [pair_rate["id"]]
        paged = await list_rates(gateway, manager, per_page=2, page=2)
        assert (paged["total"], len(paged["items"]), paged["page"]) == (7, 2, 2)

        fetched = await gateway.get(f"/v1/rates/{pair_rate['id']}", headers=manager.headers)
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
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        fields: dict[str, Any],
        bad: set[str],
    ) -> None:
        person = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, person)
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

        response = await gateway.post("/v1/rates", json=body, headers=agency.headers)

        assert_invalid_fields(response, *bad)
        assert (await list_rates(gateway, agency))["total"] == 0

    async def test_targets_outside_the_agency_are_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        their_person = await add_member(platform, gateway, other_agency, "member")
        their_project = await new_project(gateway, other_agency)
        client_user = await add_member(platform, gateway, agency, "client")
        own_person = await add_member(platform, gateway, agency, "member")

        async def attempt(**fields: Any) -> httpx.Response:
            return await gateway.post(
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
        assert (await list_rates(gateway, agency))["total"] == 0
        # the same shape with the agency's own person is fine
        ok = await attempt(scope="member", user_id=str(own_person.user_id))
        assert ok.status_code == 201, ok.text

    async def test_one_rate_per_kind_scope_and_day(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        person = await add_member(platform, gateway, agency, "member")
        first = await create_rate(
            gateway, agency, **rate_fields("member", 12_000, "2026-03-01", user=person)
        )

        again = await gateway.post(
            "/v1/rates",
            json=rate_fields("member", 13_000, "2026-03-01", user=person),
            headers=agency.headers,
        )

        body = assert_problem(again, 409, "conflict")
        assert body["rate_id"] == first["id"]
        # another day, another kind or another person is a different rate
        await create_rate(
            gateway, agency, **rate_fields("member", 13_000, "2026-03-02", user=person)
        )
        await create_rate(
            gateway, agency, **rate_fields("member", 5_000, "2026-03-01", kind="cost", user=person)
        )
        await create_rate(
            gateway, agency, **rate_fields("member", 12_000, "2026-03-01", user=agency)
        )
        assert (await list_rates(gateway, agency))["total"] == 4

    async def test_two_racing_requests_for_the_same_scope_and_day_make_one_rate(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = rate_fields("agency", 10_000, "2026-05-01")

        responses = await asyncio.gather(
            *[gateway.post("/v1/rates", json=body, headers=agency.headers) for _ in range(6)]
        )

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409, 409, 409], [r.text for r in responses]
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409, "conflict")
        assert (await list_rates(gateway, agency))["total"] == 1


class TestDeletingRates:
    async def test_a_rate_not_yet_in_effect_can_be_deleted(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        future = await create_rate(gateway, agency, **rate_fields("agency", 10_000, "2099-01-01"))

        deleted = await gateway.delete(f"/v1/rates/{future['id']}", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        gone = await gateway.get(f"/v1/rates/{future['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")
        again = await gateway.delete(f"/v1/rates/{future['id']}", headers=agency.headers)
        assert_problem(again, 404, "not-found")

    async def test_a_rate_in_effect_is_history_and_stays(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        today = datetime.now(UTC).date()  # a new agency's timezone is UTC
        past = await create_rate(gateway, agency, **rate_fields("agency", 10_000, "2026-01-01"))
        current = await create_rate(
            gateway, agency, **rate_fields("agency", 11_000, today.isoformat())
        )

        for rate in (past, current):
            response = await gateway.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert_problem(response, 409, "conflict")
            assert "supersede" in response.json()["detail"]
        assert (await list_rates(gateway, agency))["total"] == 2

    async def test_today_is_the_agencys_today_not_utcs(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # A zone whose date differs from UTC's right now: ahead of UTC late in the UTC day,
        # behind it early in the day.
        utc_now = datetime.now(UTC)
        zone = "Pacific/Kiritimati" if utc_now.hour >= 10 else "Pacific/Pago_Pago"
        await set_agency_timezone(platform, agency, zone)
        local_today = datetime.now(ZoneInfo(zone)).date()
        utc_today = datetime.now(UTC).date()
        assert local_today != utc_today

        if local_today > utc_today:
            # still tomorrow in UTC, but already in effect where the agency is
            rate = await create_rate(
                gateway, agency, **rate_fields("agency", 10_000, local_today.isoformat())
            )
            response = await gateway.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert_problem(response, 409, "conflict")
        else:
            # already in effect in UTC, but not yet where the agency is
            rate = await create_rate(
                gateway, agency, **rate_fields("agency", 10_000, utc_today.isoformat())
            )
            response = await gateway.delete(f"/v1/rates/{rate['id']}", headers=agency.headers)
            assert response.status_code == 204, response.text


class TestWhoMayTouchRates:
    async def test_a_member_may_neither_read_nor_write_rates(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        future = await create_rate(gateway, agency, **rate_fields("agency", 10_000, "2099-01-01"))

        responses = [
            await gateway.get("/v1/rates", headers=member.headers),
            await gateway.get(f"/v1/rates/{future['id']}", headers=member.headers),
            await gateway.get(
                "/v1/rates/resolve",
                params={"user_id": str(member.user_id), "project_id": project["id"]},
                headers=member.headers,
            ),
            await gateway.post(
                "/v1/rates",
                json=rate_fields("member", 99_999, "2026-01-01", user=member),
                headers=member.headers,
            ),
            await gateway.delete(f"/v1/rates/{future['id']}", headers=member.headers),
        ]

        for response in responses:
            assert_problem(response, 403, "permission-denied")
        assert (await list_rates(gateway, agency))["total"] == 1

    async def test_another_agency_sees_and_deletes_none_of_them(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        future = await create_rate(gateway, agency, **rate_fields("agency", 10_000, "2099-01-01"))
        ours = await new_project(gateway, agency)

        assert (await list_rates(gateway, other_agency))["total"] == 0
        fetched = await gateway.get(f"/v1/rates/{future['id']}", headers=other_agency.headers)
        assert_problem(fetched, 404, "not-found")
        deleted = await gateway.delete(f"/v1/rates/{future['id']}", headers=other_agency.headers)
        assert_problem(deleted, 404, "not-found")
        resolved = await gateway.get(
            "/v1/rates/resolve",
            params={"user_id": str(agency.user_id), "project_id": ours["id"]},
            headers=other_agency.headers,
        )
        assert_problem(resolved, 404, "not-found")
        assert (await list_rates(gateway, agency))["total"] == 1

    async def test_an_unauthenticated_caller_is_refused(self, gateway: httpx.AsyncClient) -> None:
        assert_problem(await gateway.get("/v1/rates"), 401, "unauthenticated")


@dataclass
class RateCard:
    """One agency's rates, set up through the API:

    agency billable   10 000 from 2026-01-01, 11 000 from 2026-07-01
    person billable   12 000 from 2026-03-01
    project A         14 000 from 2026-05-01           (A has no rate in work)
    person on A       20 000 from 2026-09-01
    project B         15 000 in work, nothing in time
    project C         no rate anywhere
    agency cost        4 000 from 2026-01-01
    person cost        6 000 from 2026-04-01, 6 500 from 2026-10-01
    """

    person: AgencySession
    project_a: dict[str, Any]
    project_b: dict[str, Any]
    project_c: dict[str, Any]
    rates: dict[str, dict[str, Any]]


@pytest.fixture
async def card(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> RateCard:
    person = await add_member(platform, gateway, agency, "member")
    project_a = await new_project(gateway, agency, person, billing_type="hourly")
    project_b = await new_project(
        gateway, agency, person, billing_type="hourly", hourly_rate_cents=15_000, currency="EUR"
    )
    project_c = await new_project(gateway, agency, person, billing_type="hourly")
    specs = {
        "agency": rate_fields("agency", 10_000, "2026-01-01"),
        "agency_july": rate_fields("agency", 11_000, "2026-07-01"),
        "person": rate_fields("member", 12_000, "2026-03-01", user=person),
        "project_a": rate_fields("project", 14_000, "2026-05-01", project=project_a),
        "person_on_a": rate_fields(
            "project_member", 20_000, "2026-09-01", user=person, project=project_a
        ),
        "agency_cost": rate_fields("agency", 4_000, "2026-01-01", kind="cost"),
        "person_cost": rate_fields("member", 6_000, "2026-04-01", kind="cost", user=person),
        "person_cost_october": rate_fields("member", 6_500, "2026-10-01", kind="cost", user=person),
    }
    rates = {name: await create_rate(gateway, agency, **body) for name, body in specs.items()}
    return RateCard(person, project_a, project_b, project_c, rates)


class TestResolvingRates:
    @pytest.mark.parametrize(
        ("day", "billable", "cost"),
        [
            ("2025-12-31", (None, "none", None), (None, "none", None)),
            ("2026-01-01", (10_000, "agency", "agency"), (4_000, "agency", "agency_cost")),
            ("2026-02-28", (10_000, "agency", "agency"), (4_000, "agency", "agency_cost")),
            ("2026-03-01", (12_000, "member", "person"), (4_000, "agency", "agency_cost")),
            ("2026-04-01", (12_000, "member", "person"), (6_000, "member", "person_cost")),
            ("2026-04-30", (12_000, "member", "person"), (6_000, "member", "person_cost")),
            ("2026-05-01", (14_000, "project", "project_a"), (6_000, "member", "person_cost")),
            ("2026-08-31", (14_000, "project", "project_a"), (6_000, "member", "person_cost")),
            (
                "2026-09-01",
                (20_000, "project_member", "person_on_a"),
                (6_000, "member", "person_cost"),
            ),
            (
                "2026-10-01",
                (20_000, "project_member", "person_on_a"),
                (6_500, "member", "person_cost_october"),
            ),
        ],
    )
    async def test_the_persons_time_on_project_a_day_by_day(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        card: RateCard,
        day: str,
        billable: tuple[int | None, str, str | None],
        cost: tuple[int | None, str, str | None],
    ) -> None:
        got = await resolve(gateway, agency, card.person.user_id, card.project_a["id"], day)

        assert got["date"] == day
        assert got["currency"] == "USD"
        for side, (cents, source, rate_name) in (("billable", billable), ("cost", cost)):
            rate = card.rates[rate_name] if rate_name else None
            assert got[side] == {
                "hourly_rate_cents": cents,
                "source": source,
                "rate_id": rate["id"] if rate else None,
                "effective_from": rate["effective_from"] if rate else None,
            }, side

    @pytest.mark.parametrize(
        ("who", "project", "day", "expected"),
        [
            # the project's own rate in work is the project level: it beats the person's
            ("person", "b", "2026-03-01", (15_000, "project")),
            ("person", "b", "2025-01-01", (15_000, "project")),
            # before A's rate in time takes effect, the person's default applies
            ("person", "a", "2026-04-30", (12_000, "member")),
            # no rate of their own: the project's, else the agency's (as it changes)
            ("owner", "a", "2026-05-01", (14_000, "project")),
            ("owner", "a", "2026-04-15", (10_000, "agency")),
            ("owner", "c", "2026-06-30", (10_000, "agency")),
            ("owner", "c", "2026-07-01", (11_000, "agency")),
            ("person", "c", "2026-07-01", (12_000, "member")),
        ],
    )
    async def test_precedence_across_people_and_projects(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        card: RateCard,
        who: str,
        project: str,
        day: str,
        expected: tuple[int, str],
    ) -> None:
        user_id = card.person.user_id if who == "person" else agency.user_id
        project_id = {"a": card.project_a, "b": card.project_b, "c": card.project_c}[project]["id"]

        got = await resolve(gateway, agency, user_id, project_id, day)

        assert (got["billable"]["hourly_rate_cents"], got["billable"]["source"]) == expected

    async def test_work_s_project_rate_names_no_time_rate_and_comes_in_the_project_currency(
        self, gateway: httpx.AsyncClient, agency: AgencySession, card: RateCard
    ) -> None:
        got = await resolve(
            gateway, agency, card.person.user_id, card.project_b["id"], "2026-06-01"
        )

        assert got["currency"] == "EUR"
        assert got["billable"] == {
            "hourly_rate_cents": 15_000,
            "source": "project",
            "rate_id": None,
            "effective_from": None,
        }

    async def test_without_a_date_it_resolves_for_today(
        self, gateway: httpx.AsyncClient, agency: AgencySession, card: RateCard
    ) -> None:
        got = await resolve(gateway, agency, card.person.user_id, card.project_c["id"])

        assert got["date"] == datetime.now(UTC).date().isoformat()
        assert (got["billable"]["hourly_rate_cents"], got["billable"]["source"]) == (
            12_000,
            "member",
        )

    async def test_bad_or_unknown_arguments(
        self, gateway: httpx.AsyncClient, agency: AgencySession, card: RateCard
    ) -> None:
        async def attempt(**params: str) -> httpx.Response:
            return await gateway.get("/v1/rates/resolve", params=params, headers=agency.headers)

        person, project = str(card.person.user_id), card.project_a["id"]
        assert_invalid_fields(await attempt(project_id=project), "query.user_id")
        assert_invalid_fields(await attempt(user_id="nope", project_id=project), "query.user_id")
        assert_invalid_fields(
            await attempt(user_id=person, project_id=project, date="2026-13-01"), "query.date"
        )
        unknown = await attempt(user_id=person, project_id=str(uuid.uuid4()))
        assert_problem(unknown, 404, "not-found")


# --- approved time keeps its value ----------------------------------------------------------


@pytest.fixture
async def time_stub(platform: Platform) -> AsyncIterator[time_pb2_grpc.TimeServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("time")) as channel:
        yield time_pb2_grpc.TimeServiceStub(channel)


class TestRateChangesAndApprovedTime:
    async def test_a_new_rate_changes_no_approved_entrys_frozen_value(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        time_stub: time_pb2_grpc.TimeServiceStub,
    ) -> None:
        person = await add_member(platform, gateway, agency, "member")
        client_id = await create_crm_client(platform, agency)
        project = await new_project(
            gateway, agency, person, client_id=str(client_id), billing_type="hourly"
        )
        day = date(2026, 5, 4)
        await create_rate(
            gateway, agency, **rate_fields("member", 9_000, "2026-01-01", user=person)
        )

        async def seed(frozen: int | None) -> uuid.UUID:
            return await seed_time_entry(
                platform,
                agency,
                user_id=person.user_id,
                project_id=uuid.UUID(project["id"]),
                client_id=client_id,
                day=day,
                duration_seconds=5_400,
                status="approved",
                billable_rate_cents=frozen,
                currency="USD" if frozen is not None else None,
            )

        frozen_entry = await seed(9_000)  # approved while the person's rate was 9 000
        unfrozen_entry = await seed(None)

        async def values() -> dict[uuid.UUID, tuple[int, int, str]]:
            response = await time_stub.ListUnbilledEntries(
                time_pb2.EntrySelection(client_id=str(client_id)),
                metadata=[("authorization", f"Bearer {agency.access_token}")],
                timeout=10,
            )
            return {
                uuid.UUID(e.id): (e.rate_cents, e.amount_cents, e.rate_source)
                for e in response.entries
            }

        before = await values()
        # a raise for the person, back-dated to before the entry's day, and a rate for them
        # on this project
        await create_rate(
            gateway, agency, **rate_fields("member", 30_000, "2026-05-01", user=person)
        )
        await create_rate(
            gateway,
            agency,
            **rate_fields("project_member", 40_000, "2026-01-01", user=person, project=project),
        )
        after = await values()

        assert before == {
            frozen_entry: (9_000, 13_500, "frozen"),
            unfrozen_entry: (9_000, 13_500, "member"),
        }
        assert after == {
            frozen_entry: (9_000, 13_500, "frozen"),
            unfrozen_entry: (40_000, 60_000, "project_member"),
        }
