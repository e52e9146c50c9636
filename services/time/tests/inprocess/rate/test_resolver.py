"""Resolving rates (`rate/resolver.py`): precedence (person on project, project, person,
agency; work's project rate as the project level in the project's currency) and effective dates
day by day against hand-computed values, and that a rate change never changes what approved time
is worth (as the invoicing gRPC values it)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.rates import create_rate, rate_fields

SeedEntry = Callable[..., Awaitable[uuid.UUID]]


async def resolve(
    time_api: httpx.AsyncClient,
    who: Caller,
    user_id: uuid.UUID,
    project_id: str,
    day: str | None = None,
) -> dict[str, Any]:
    params = {"user_id": str(user_id), "project_id": project_id}
    if day is not None:
        params["date"] = day
    response = await time_api.get("/v1/rates/resolve", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


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

    person: Caller
    project_a: dict[str, Any]
    project_b: dict[str, Any]
    project_c: dict[str, Any]
    rates: dict[str, dict[str, Any]]


@pytest.fixture
async def card(
    in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, agency: Caller
) -> RateCard:
    person = tenant.caller("member")
    project_a = tenant.new_project(person, billing_type="hourly")
    project_b = tenant.new_project(
        person, billing_type="hourly", hourly_rate_cents=15_000, currency="EUR"
    )
    project_c = tenant.new_project(person, billing_type="hourly")
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
    rates = {name: await create_rate(time_api, agency, **body) for name, body in specs.items()}
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
        time_api: httpx.AsyncClient,
        agency: Caller,
        card: RateCard,
        day: str,
        billable: tuple[int | None, str, str | None],
        cost: tuple[int | None, str, str | None],
    ) -> None:
        got = await resolve(time_api, agency, card.person.user_id, card.project_a["id"], day)

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
        time_api: httpx.AsyncClient,
        agency: Caller,
        card: RateCard,
        who: str,
        project: str,
        day: str,
        expected: tuple[int, str],
    ) -> None:
        user_id = card.person.user_id if who == "person" else agency.user_id
        project_id = {"a": card.project_a, "b": card.project_b, "c": card.project_c}[project]["id"]

        got = await resolve(time_api, agency, user_id, project_id, day)

        assert (got["billable"]["hourly_rate_cents"], got["billable"]["source"]) == expected

    async def test_work_s_project_rate_names_no_time_rate_and_comes_in_the_project_currency(
        self, time_api: httpx.AsyncClient, agency: Caller, card: RateCard
    ) -> None:
        got = await resolve(
            time_api, agency, card.person.user_id, card.project_b["id"], "2026-06-01"
        )

        assert got["currency"] == "EUR"
        assert got["billable"] == {
            "hourly_rate_cents": 15_000,
            "source": "project",
            "rate_id": None,
            "effective_from": None,
        }

    async def test_without_a_date_it_resolves_for_today(
        self, time_api: httpx.AsyncClient, agency: Caller, card: RateCard
    ) -> None:
        got = await resolve(time_api, agency, card.person.user_id, card.project_c["id"])

        assert got["date"] == datetime.now(UTC).date().isoformat()
        assert (got["billable"]["hourly_rate_cents"], got["billable"]["source"]) == (
            12_000,
            "member",
        )

    async def test_bad_or_unknown_arguments(
        self, time_api: httpx.AsyncClient, agency: Caller, card: RateCard
    ) -> None:
        async def attempt(**params: str) -> httpx.Response:
            return await time_api.get("/v1/rates/resolve", params=params, headers=agency.headers)

        person, project = str(card.person.user_id), card.project_a["id"]
        assert_invalid_fields(await attempt(project_id=project), "query.user_id")
        assert_invalid_fields(await attempt(user_id="nope", project_id=project), "query.user_id")
        assert_invalid_fields(
            await attempt(user_id=person, project_id=project, date="2026-13-01"), "query.date"
        )
        unknown = await attempt(user_id=person, project_id=str(uuid.uuid4()))
        assert_problem(unknown, 404, "not-found")


# --- approved time keeps its value ----------------------------------------------------------


class TestRateChangesAndApprovedTime:
    async def test_a_new_rate_changes_no_approved_entrys_frozen_value(
        self,
        seed_entry: SeedEntry,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        agency: Caller,
        stub: time_pb2_grpc.TimeServiceStub,
    ) -> None:
        person = tenant.caller("member")
        client_id = in_process.standins.crm.add_client(tenant.id)
        project = tenant.new_project(person, client_id=client_id, billing_type="hourly")
        day = date(2026, 5, 4)
        await create_rate(
            time_api, agency, **rate_fields("member", 9_000, "2026-01-01", user=person)
        )

        async def seed(frozen: int | None) -> uuid.UUID:
            return await seed_entry(
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
            response = await stub.ListUnbilledEntries(
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
            time_api, agency, **rate_fields("member", 30_000, "2026-05-01", user=person)
        )
        await create_rate(
            time_api,
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
