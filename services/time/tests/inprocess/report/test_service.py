"""The utilization report (`report/service.py`): per person and per project figures against
ones computed by hand, chosen thresholds and statuses, partial ranges, someone suspended; who
sees whose figures, and another agency seeing none of them."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from agencyos.common.events import EventPayload, MemberSuspended
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess

SeedEntry = Callable[..., Awaitable[uuid.UUID]]
IdentitySays = Callable[[EventPayload], Awaitable[str]]
Join = Callable[..., Awaitable[None]]

HOUR = 3600
# Two full ISO weeks: Monday 7 to Sunday 20 September 2026, ten working days.
FROM, TO = date(2026, 9, 7), date(2026, 9, 20)


async def utilization(time_api: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
    query = {"from": FROM.isoformat(), "to": TO.isoformat(), **params}
    response = await time_api.get("/v1/reports/utilization", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


@dataclass(frozen=True)
class Scenario:
    """Three people over two weeks (capacity hours = weekly x 10 working days / 5):

    | person  | weekly | capacity | logged | billable | util    | billable util | flag  |
    |---------|--------|----------|--------|----------|---------|---------------|-------|
    | owner   | 40     | 80       | 60     | 40       | 75.0 %  | 50.0 %        |       |
    | manager | 20     | 40       | 50     | 45       | 125.0 % | 112.5 %       | over  |
    | member  | 40     | 80       | 40     | 20       | 50.0 %  | 25.0 %        | under |
    | agency  |        | 200      | 150    | 105      | 75.0 %  | 52.5 %        |       |

    Per project: P1 = owner 60 (40 billable) + manager 30 (30) = 90 h, 70 billable;
    P2 = manager 20 (15) + member 40 (20) = 60 h, 35 billable. Not counted: the member's
    rejected 8 h inside the range, and entries the day before and the day after it."""

    owner: Caller
    manager: Caller
    member: Caller
    p1: dict[str, Any]
    p2: dict[str, Any]


@pytest.fixture
async def scenario(
    in_process: InProcess,
    time_api: httpx.AsyncClient,
    tenant: Agency,
    join: Join,
    seed_entry: SeedEntry,
) -> Scenario:
    agency = tenant.owner
    manager = tenant.caller("manager")
    member = tenant.caller("member")
    for person in (agency, manager, member):
        await join(person)
    work = in_process.standins.work
    p1 = {"id": str(work.add_project(tenant.id, agency.user_id, manager.user_id))}
    p2 = {"id": str(work.add_project(tenant.id, agency.user_id, manager.user_id, member.user_id))}
    for person, weekly in ((agency, 40), (manager, 20), (member, 40)):
        response = await time_api.put(
            f"/v1/capacity/{person.user_id}",
            json={"weekly_capacity_hours": weekly},
            headers=agency.headers,
        )
        assert response.status_code == 200, response.text

    def day(n: int) -> date:
        return FROM + timedelta(days=n)

    plan: list[tuple[Caller, dict[str, Any], int, float, bool, str]] = [
        # owner on P1: 40 h billable, 20 h not
        *[(agency, p1, n, 10, True, "approved") for n in (0, 1, 2, 3)],
        *[(agency, p1, n, 10, False, "draft") for n in (7, 8)],
        # manager: P1 30 h billable; P2 15 h billable, 5 h not
        *[(manager, p1, n, 10, True, "submitted") for n in (0, 1, 2)],
        (manager, p2, 3, 10, True, "approved"),
        (manager, p2, 4, 5, True, "draft"),
        (manager, p2, 7, 5, False, "draft"),
        # member on P2: 20 h billable (one 4 h on the Saturday), 20 h not
        (member, p2, 0, 8, True, "draft"),
        (member, p2, 1, 8, True, "submitted"),
        (member, p2, 5, 4, True, "draft"),
        (member, p2, 2, 8, False, "approved"),
        (member, p2, 3, 8, False, "draft"),
        (member, p2, 11, 4, False, "draft"),
        # not counted: rejected, and outside the range on both sides
        (member, p2, 9, 8, True, "rejected"),
        (member, p2, -1, 5, True, "draft"),
        (member, p2, 14, 8, True, "draft"),
    ]
    for person, project, n, hours, billable, status in plan:
        await seed_entry(
            agency,
            user_id=person.user_id,
            project_id=uuid.UUID(project["id"]),
            day=day(n),
            duration_seconds=int(hours * HOUR),
            is_billable=billable,
            status=status,
        )
    return Scenario(agency, manager, member, p1, p2)


def numbers(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["capacity_hours"],
        row["logged_hours"],
        row["billable_hours"],
        row["utilization_percent"],
        row["billable_utilization_percent"],
        row["over_booked"],
        row["under_booked"],
    )


class TestFigures:
    async def test_per_member_numbers_match_the_hand_computed_ones(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(time_api, scenario.manager)

        assert (report["from"], report["to"], report["working_days"]) == (
            "2026-09-07",
            "2026-09-20",
            10,
        )
        assert (report["scope"], report["group_by"]) == ("agency", "member")
        assert report["statuses"] == ["approved", "draft", "invoiced", "submitted"]
        assert report["projects"] is None
        rows = {r["user_id"]: r for r in report["members"]}
        assert set(rows) == {
            str(scenario.owner.user_id),
            str(scenario.manager.user_id),
            str(scenario.member.user_id),
        }
        assert numbers(rows[str(scenario.owner.user_id)]) == (
            80.0,
            60.0,
            40.0,
            75.0,
            50.0,
            False,
            False,
        )
        assert numbers(rows[str(scenario.manager.user_id)]) == (
            40.0,
            50.0,
            45.0,
            125.0,
            112.5,
            True,
            False,
        )
        assert numbers(rows[str(scenario.member.user_id)]) == (
            80.0,
            40.0,
            20.0,
            50.0,
            25.0,
            False,
            True,
        )
        assert rows[str(scenario.member.user_id)]["non_billable_hours"] == 20.0
        assert rows[str(scenario.manager.user_id)]["weekly_capacity_hours"] == 20.0
        assert report["totals"] == {
            "people": 3,
            "capacity_hours": 200.0,
            "logged_hours": 150.0,
            "billable_hours": 105.0,
            "non_billable_hours": 45.0,
            "utilization_percent": 75.0,
            "billable_utilization_percent": 52.5,
            "over_booked": 1,
            "under_booked": 1,
        }

    async def test_per_project_numbers(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(time_api, scenario.owner, group_by="project")
        assert report["members"] is None
        assert [
            (
                p["project_id"],
                p["people"],
                p["logged_hours"],
                p["billable_hours"],
                p["billable_percent"],
            )
            for p in report["projects"]
        ] == [
            (scenario.p1["id"], 2, 90.0, 70.0, 77.8),
            (scenario.p2["id"], 2, 60.0, 35.0, 58.3),
        ]
        assert report["totals"]["utilization_percent"] == 75.0

    async def test_thresholds_and_statuses_can_be_chosen(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(
            time_api, scenario.manager, under_threshold=80, over_threshold=130
        )
        flags = {r["user_id"]: (r["over_booked"], r["under_booked"]) for r in report["members"]}
        assert flags == {
            str(scenario.owner.user_id): (False, True),
            str(scenario.manager.user_id): (False, False),
            str(scenario.member.user_id): (False, True),
        }
        assert (report["totals"]["over_booked"], report["totals"]["under_booked"]) == (0, 2)

        rejected = await utilization(time_api, scenario.manager, status="rejected")
        logged = {r["user_id"]: r["logged_hours"] for r in rejected["members"]}
        assert logged[str(scenario.member.user_id)] == 8.0
        assert logged[str(scenario.owner.user_id)] == 0.0
        approved = await utilization(time_api, scenario.manager, status=["approved", "submitted"])
        assert approved["totals"]["logged_hours"] == 40 + 30 + 10 + 16

    async def test_a_partial_range_counts_its_working_days(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        # Wednesday 9 to Tuesday 15 September: five working days, one week of capacity
        report = await utilization(
            time_api, scenario.manager, **{"from": "2026-09-09", "to": "2026-09-15"}
        )
        assert report["working_days"] == 5
        rows = {r["user_id"]: r for r in report["members"]}
        manager = rows[str(scenario.manager.user_id)]
        # 10 (Wed) + 10 (Thu) + 5 (Fri) + 5 (Mon, non-billable) over 20 capacity hours
        assert numbers(manager) == (20.0, 30.0, 25.0, 150.0, 125.0, True, False)

    async def test_someone_suspended_keeps_their_hours_but_no_capacity(
        self, time_api: httpx.AsyncClient, scenario: Scenario, identity_says: IdentitySays
    ) -> None:
        suspended = MemberSuspended(
            agency_id=scenario.owner.agency_id,
            user_id=scenario.member.user_id,
            suspended_by=scenario.owner.user_id,
        )
        assert await identity_says(suspended) == "ok"
        report = await utilization(time_api, scenario.manager)
        row = next(r for r in report["members"] if r["user_id"] == str(scenario.member.user_id))
        assert numbers(row) == (0.0, 40.0, 20.0, None, None, False, False)
        assert report["totals"]["capacity_hours"] == 120.0
        assert report["totals"]["utilization_percent"] == 125.0


class TestWhoSeesWhat:
    async def test_a_member_sees_only_their_own(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(time_api, scenario.member)
        assert report["scope"] == "member"
        assert [r["user_id"] for r in report["members"]] == [str(scenario.member.user_id)]
        assert report["totals"]["utilization_percent"] == 50.0
        explicit = await utilization(
            time_api, scenario.member, user_id=str(scenario.member.user_id)
        )
        assert explicit["members"] == report["members"]
        projects = await utilization(time_api, scenario.member, group_by="project")
        assert [(p["project_id"], p["logged_hours"]) for p in projects["projects"]] == [
            (scenario.p2["id"], 40.0)
        ]

        for other in (scenario.manager, scenario.owner):
            response = await time_api.get(
                "/v1/reports/utilization",
                params={
                    "from": FROM.isoformat(),
                    "to": TO.isoformat(),
                    "user_id": str(other.user_id),
                },
                headers=scenario.member.headers,
            )
            assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may_look_at_one_person(
        self, time_api: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(time_api, scenario.manager, user_id=str(scenario.member.user_id))
        assert report["scope"] == "member"
        [row] = report["members"]
        assert numbers(row) == (80.0, 40.0, 20.0, 50.0, 25.0, False, True)
        stranger = await time_api.get(
            "/v1/reports/utilization",
            params={"from": FROM.isoformat(), "to": TO.isoformat(), "user_id": str(uuid.uuid4())},
            headers=scenario.manager.headers,
        )
        assert_problem(stranger, 404, "not-found")

    async def test_another_agency_sees_none_of_it(
        self,
        time_api: httpx.AsyncClient,
        scenario: Scenario,
        other_agency: Caller,
        join: Join,
    ) -> None:
        await join(other_agency)
        report = await utilization(time_api, other_agency)
        assert [r["user_id"] for r in report["members"]] == [str(other_agency.user_id)]
        assert report["totals"]["logged_hours"] == 0.0
        projects = await utilization(time_api, other_agency, group_by="project")
        assert projects["projects"] == []
