"""The team roster with capacity and the utilization report, through the real gateway: identity's
member events (signup, invitation, role change, suspension, reactivation, removal) keep time's
roster current, exactly once under redelivery; capacity is read by everyone for themselves and
set by managers; utilization numbers are checked against values computed by hand."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from agencyos.common.events import CloudEvent, MemberAdded, build_event
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_topic, topic_writer
from agencyos.testing.platform import Platform
from agencyos.testing.time_entries import seed_time_entry

HOUR = 3600
# Two full ISO weeks: Monday 7 to Sunday 20 September 2026, ten working days.
FROM, TO = date(2026, 9, 7), date(2026, 9, 20)


async def eventually(
    check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0
) -> None:
    """Wait until `check()` holds (the roster follows identity's events asynchronously)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.25)


async def roster(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, dict[str, Any]]:
    response = await gateway.get(
        "/v1/capacity", params={"per_page": 200, **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return {m["user_id"]: m for m in response.json()["items"]}


async def wait_for_member(
    gateway: httpx.AsyncClient,
    viewer: AgencySession,
    person: AgencySession,
    status: str | None = None,
    **expected: Any,
) -> dict[str, Any]:
    """`person`'s roster row once it matches `expected` (in the `status` list, if given)."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        params = {"status": status} if status else {}
        row = (await roster(gateway, viewer, **params)).get(str(person.user_id))
        if row is None or any(row.get(k) != v for k, v in expected.items()):
            return False
        found.update(row)
        return True

    await eventually(check, f"{person.user_id} in the roster with {expected}")
    return found


async def set_capacity(
    gateway: httpx.AsyncClient, who: AgencySession, person: AgencySession, hours: Any
) -> httpx.Response:
    return await gateway.put(
        f"/v1/capacity/{person.user_id}",
        json={"weekly_capacity_hours": hours},
        headers=who.headers,
    )


async def utilization(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    query = {"from": FROM.isoformat(), "to": TO.isoformat(), **params}
    response = await gateway.get("/v1/reports/utilization", params=query, headers=who.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


# --- the roster ------------------------------------------------------------------------------


class TestRoster:
    async def test_signup_and_invitations_fill_the_roster(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await add_member(platform, gateway, agency, "client")
        manager = await add_member(platform, gateway, agency, "manager")
        member = await add_member(platform, gateway, agency, "member")

        owner_row = await wait_for_member(gateway, agency, agency, role="owner")
        assert owner_row["name"].startswith("Owner ")
        assert (owner_row["status"], owner_row["weekly_capacity_hours"]) == ("active", 40.0)
        await wait_for_member(gateway, agency, manager, role="manager")
        member_row = await wait_for_member(gateway, agency, member, role="member")
        assert member_row["name"].startswith("Member ")

        # the client user joined before the member, so identity's event about them has been
        # handled by now: clients are never the team
        team = await roster(gateway, agency)
        assert set(team) == {str(agency.user_id), str(manager.user_id), str(member.user_id)}
        assert [m["name"] for m in team.values()] == sorted(m["name"] for m in team.values())

    async def test_role_changes_suspension_and_removal_follow_identity(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        await wait_for_member(gateway, agency, member, role="member")
        assert (await set_capacity(gateway, agency, member, 30)).status_code == 200

        promoted = await gateway.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )
        assert promoted.status_code == 200, promoted.text
        await wait_for_member(gateway, agency, member, role="manager")

        suspended = await gateway.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text
        await wait_for_member(gateway, agency, member, "suspended")

        back = await gateway.post(
            f"/v1/members/{member.user_id}/reactivate", headers=agency.headers
        )
        assert back.status_code == 200, back.text
        row = await wait_for_member(gateway, agency, member, "active", role="manager")
        assert row["weekly_capacity_hours"] == 30.0

        removed = await gateway.delete(f"/v1/members/{member.user_id}", headers=agency.headers)
        assert removed.status_code == 204, removed.text
        gone = await wait_for_member(gateway, agency, member, "removed")
        assert gone["weekly_capacity_hours"] == 30.0
        assert str(member.user_id) not in await roster(gateway, agency)

    async def test_a_redelivered_event_has_no_second_effect(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        topic = f"{platform.topic_prefix}identity.events"

        def added(records: list[Any]) -> list[dict[str, Any]]:
            return [
                e
                for e in events_where(
                    records, tenantid=str(agency.agency_id), type="identity.member.added"
                )
                if e["data"]["user_id"] == str(member.user_id)
            ]

        [original] = added(
            await read_topic(platform.infra.kafka_bootstrap, topic, lambda rs: len(added(rs)) >= 1)
        )
        await wait_for_member(gateway, agency, member, role="member")
        suspended = await gateway.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text
        await wait_for_member(gateway, agency, member, "suspended")

        # the same `member.added` again (a redelivery), then a new person as a marker: once
        # the marker is in the roster, the redelivery before it has been handled
        marker = uuid.uuid4()
        marker_event = build_event(
            MemberAdded(
                agency_id=agency.agency_id,
                user_id=marker,
                email=f"marker-{marker.hex[:8]}@example.com",
                name="Zz Marker",
                role="member",
            ),
            tenant_id=agency.agency_id,
            source_service="identity",
        )
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, CloudEvent.model_validate(original))
            await writer.send_event(topic, marker_event)

        async def marker_arrived() -> bool:
            return str(marker) in await roster(gateway, agency)

        await eventually(marker_arrived, "the marker member in the roster")
        row = (await roster(gateway, agency, status="suspended"))[str(member.user_id)]
        assert row["status"] == "suspended"


class TestCapacity:
    async def test_a_member_sees_only_themselves(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        member = await add_member(platform, gateway, agency, "member")
        await wait_for_member(gateway, agency, manager)
        own = await wait_for_member(gateway, member, member)
        assert set(await roster(gateway, member)) == {str(member.user_id)}
        assert own["weekly_capacity_hours"] == 40.0

        mine = await gateway.get(f"/v1/capacity/{member.user_id}", headers=member.headers)
        assert mine.status_code == 200, mine.text
        theirs = await gateway.get(f"/v1/capacity/{manager.user_id}", headers=member.headers)
        assert_problem(theirs, 403, "permission-denied")
        by_manager = await gateway.get(f"/v1/capacity/{member.user_id}", headers=manager.headers)
        assert by_manager.status_code == 200, by_manager.text

    async def test_a_manager_sets_capacity(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        member = await add_member(platform, gateway, agency, "member")
        # identity answers for a member the roster may not have heard of yet
        response = await set_capacity(gateway, manager, member, 37.5)
        assert response.status_code == 200, response.text
        assert response.json()["weekly_capacity_hours"] == 37.5
        assert response.json()["user_id"] == str(member.user_id)
        row = await wait_for_member(gateway, agency, member, role="member")
        assert row["weekly_capacity_hours"] == 37.5
        zero = await set_capacity(gateway, agency, member, 0)
        assert zero.json()["weekly_capacity_hours"] == 0.0
        top = await set_capacity(gateway, agency, member, "168")
        assert top.json()["weekly_capacity_hours"] == 168.0

    async def test_a_member_cannot_set_capacity(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        for target in (member, agency):
            response = await set_capacity(gateway, member, target, 10)
            assert_problem(response, 403, "permission-denied")
        assert (await wait_for_member(gateway, agency, member))["weekly_capacity_hours"] == 40.0

    @pytest.mark.parametrize("hours", [-1, 168.01, 169, 1e6, "abc", None, 37.555, "NaN"])
    async def test_capacity_must_be_within_a_week(
        self, gateway: httpx.AsyncClient, agency: AgencySession, hours: Any
    ) -> None:
        response = await set_capacity(gateway, agency, agency, hours)
        assert_invalid_fields(response, "weekly_capacity_hours")

    async def test_unknown_and_other_agencys_people_answer_404(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        for stranger in (uuid.uuid4(), other_agency.user_id, client_user.user_id):
            put = await gateway.put(
                f"/v1/capacity/{stranger}",
                json={"weekly_capacity_hours": 10},
                headers=agency.headers,
            )
            assert_problem(put, 404, "not-found")
            get = await gateway.get(f"/v1/capacity/{stranger}", headers=agency.headers)
            assert_problem(get, 404, "not-found")
        await wait_for_member(gateway, other_agency, other_agency)
        assert str(other_agency.user_id) not in await roster(gateway, agency)


# --- utilization -----------------------------------------------------------------------------


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

    def __init__(
        self,
        owner: AgencySession,
        manager: AgencySession,
        member: AgencySession,
        p1: dict[str, Any],
        p2: dict[str, Any],
    ) -> None:
        self.owner, self.manager, self.member, self.p1, self.p2 = owner, manager, member, p1, p2


@pytest.fixture
async def scenario(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> Scenario:
    manager = await add_member(platform, gateway, agency, "manager")
    member = await add_member(platform, gateway, agency, "member")
    p1 = await new_project(gateway, agency, manager)
    p2 = await new_project(gateway, agency, manager, member)
    for person, hours in ((agency, 40), (manager, 20), (member, 40)):
        assert (await set_capacity(gateway, agency, person, hours)).status_code == 200

    def day(n: int) -> date:
        return FROM + timedelta(days=n)

    plan: list[tuple[AgencySession, dict[str, Any], int, float, bool, str]] = [
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
        await seed_time_entry(
            platform,
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


class TestUtilization:
    async def test_per_member_numbers_match_the_hand_computed_ones(
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(gateway, scenario.manager)

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
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(gateway, scenario.owner, group_by="project")
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
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(
            gateway, scenario.manager, under_threshold=80, over_threshold=130
        )
        flags = {r["user_id"]: (r["over_booked"], r["under_booked"]) for r in report["members"]}
        assert flags == {
            str(scenario.owner.user_id): (False, True),
            str(scenario.manager.user_id): (False, False),
            str(scenario.member.user_id): (False, True),
        }
        assert (report["totals"]["over_booked"], report["totals"]["under_booked"]) == (0, 2)

        rejected = await utilization(gateway, scenario.manager, status="rejected")
        logged = {r["user_id"]: r["logged_hours"] for r in rejected["members"]}
        assert logged[str(scenario.member.user_id)] == 8.0
        assert logged[str(scenario.owner.user_id)] == 0.0
        approved = await utilization(gateway, scenario.manager, status=["approved", "submitted"])
        assert approved["totals"]["logged_hours"] == 40 + 30 + 10 + 16

    async def test_a_partial_range_counts_its_working_days(
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        # Wednesday 9 to Tuesday 15 September: five working days, one week of capacity
        report = await utilization(
            gateway, scenario.manager, **{"from": "2026-09-09", "to": "2026-09-15"}
        )
        assert report["working_days"] == 5
        rows = {r["user_id"]: r for r in report["members"]}
        manager = rows[str(scenario.manager.user_id)]
        # 10 (Wed) + 10 (Thu) + 5 (Fri) + 5 (Mon, non-billable) over 20 capacity hours
        assert numbers(manager) == (20.0, 30.0, 25.0, 150.0, 125.0, True, False)

    async def test_a_member_sees_only_their_own(
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(gateway, scenario.member)
        assert report["scope"] == "member"
        assert [r["user_id"] for r in report["members"]] == [str(scenario.member.user_id)]
        assert report["totals"]["utilization_percent"] == 50.0
        explicit = await utilization(gateway, scenario.member, user_id=str(scenario.member.user_id))
        assert explicit["members"] == report["members"]
        projects = await utilization(gateway, scenario.member, group_by="project")
        assert [(p["project_id"], p["logged_hours"]) for p in projects["projects"]] == [
            (scenario.p2["id"], 40.0)
        ]

        for other in (scenario.manager, scenario.owner):
            response = await gateway.get(
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
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        report = await utilization(gateway, scenario.manager, user_id=str(scenario.member.user_id))
        assert report["scope"] == "member"
        [row] = report["members"]
        assert numbers(row) == (80.0, 40.0, 20.0, 50.0, 25.0, False, True)
        stranger = await gateway.get(
            "/v1/reports/utilization",
            params={"from": FROM.isoformat(), "to": TO.isoformat(), "user_id": str(uuid.uuid4())},
            headers=scenario.manager.headers,
        )
        assert_problem(stranger, 404, "not-found")

    async def test_someone_suspended_keeps_their_hours_but_no_capacity(
        self, gateway: httpx.AsyncClient, scenario: Scenario
    ) -> None:
        suspended = await gateway.post(
            f"/v1/members/{scenario.member.user_id}/suspend", headers=scenario.owner.headers
        )
        assert suspended.status_code == 200, suspended.text
        await wait_for_member(gateway, scenario.owner, scenario.member, "suspended")
        report = await utilization(gateway, scenario.manager)
        row = next(r for r in report["members"] if r["user_id"] == str(scenario.member.user_id))
        assert numbers(row) == (0.0, 40.0, 20.0, None, None, False, False)
        assert report["totals"]["capacity_hours"] == 120.0
        assert report["totals"]["utilization_percent"] == 125.0

    async def test_another_agency_sees_none_of_it(
        self, gateway: httpx.AsyncClient, scenario: Scenario, other_agency: AgencySession
    ) -> None:
        await wait_for_member(gateway, other_agency, other_agency)
        report = await utilization(gateway, other_agency)
        assert [r["user_id"] for r in report["members"]] == [str(other_agency.user_id)]
        assert report["totals"]["logged_hours"] == 0.0
        projects = await utilization(gateway, other_agency, group_by="project")
        assert projects["projects"] == []

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2026-09-20", "to": "2026-09-07"}, "query.to"),
            ({"from": "2026-01-01", "to": "2027-01-02"}, "query.to"),
            ({"to": "2026-09-07"}, "query.from"),
            ({"from": "2026-09-07", "to": "yesterday"}, "query.to"),
            ({"from": "2026-09-07", "to": "2026-09-20", "group_by": "client"}, "query.group_by"),
            (
                {
                    "from": "2026-09-07",
                    "to": "2026-09-20",
                    "under_threshold": 90,
                    "over_threshold": 80,
                },
                "query.under_threshold",
            ),
            ({"from": "2026-09-07", "to": "2026-09-20", "status": "lost"}, "query.status.0"),
        ],
    )
    async def test_bad_parameters_are_refused(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        params: dict[str, Any],
        field: str,
    ) -> None:
        response = await gateway.get(
            "/v1/reports/utilization", params=params, headers=agency.headers
        )
        assert_invalid_fields(response, field)
