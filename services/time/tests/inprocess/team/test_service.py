"""Capacity (`team/service.py`): everyone reads their own, managers and above read and set
anyone's (a person identity knows but the roster has not heard of yet is added from identity's
answer), members set none; client users, strangers and another agency's people are 404."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller

Join = Callable[..., Awaitable[None]]


async def roster(
    time_api: httpx.AsyncClient, who: Caller, **params: Any
) -> dict[str, dict[str, Any]]:
    response = await time_api.get(
        "/v1/capacity", params={"per_page": 200, **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return {m["user_id"]: m for m in response.json()["items"]}


async def set_capacity(
    time_api: httpx.AsyncClient, who: Caller, person: Caller | uuid.UUID, hours: Any
) -> httpx.Response:
    user_id = person.user_id if isinstance(person, Caller) else person
    return await time_api.put(
        f"/v1/capacity/{user_id}", json={"weekly_capacity_hours": hours}, headers=who.headers
    )


class TestCapacity:
    async def test_a_member_sees_only_themselves(
        self, time_api: httpx.AsyncClient, tenant: Agency, join: Join
    ) -> None:
        manager = tenant.caller("manager")
        member = tenant.caller("member")
        await join(tenant.owner)
        await join(manager)
        await join(member)

        own = await roster(time_api, member)
        assert set(own) == {str(member.user_id)}
        assert own[str(member.user_id)]["weekly_capacity_hours"] == 40.0
        assert len(await roster(time_api, manager)) == 3

        mine = await time_api.get(f"/v1/capacity/{member.user_id}", headers=member.headers)
        assert mine.status_code == 200, mine.text
        theirs = await time_api.get(f"/v1/capacity/{manager.user_id}", headers=member.headers)
        assert_problem(theirs, 403, "permission-denied")
        by_manager = await time_api.get(f"/v1/capacity/{member.user_id}", headers=manager.headers)
        assert by_manager.status_code == 200, by_manager.text

    async def test_a_manager_sets_capacity(
        self, time_api: httpx.AsyncClient, tenant: Agency, agency: Caller, join: Join
    ) -> None:
        manager = tenant.caller("manager")
        member = tenant.caller("member")
        # identity (its stand-in) answers for a member the roster has not heard of yet
        response = await set_capacity(time_api, manager, member, 37.5)
        assert response.status_code == 200, response.text
        assert response.json()["weekly_capacity_hours"] == 37.5
        assert response.json()["user_id"] == str(member.user_id)
        assert response.json()["role"] == "member"
        # identity's event arriving afterwards leaves the capacity alone
        await join(member)
        row = (await roster(time_api, agency))[str(member.user_id)]
        assert (row["role"], row["weekly_capacity_hours"]) == ("member", 37.5)
        zero = await set_capacity(time_api, agency, member, 0)
        assert zero.json()["weekly_capacity_hours"] == 0.0
        top = await set_capacity(time_api, agency, member, "168")
        assert top.json()["weekly_capacity_hours"] == 168.0

    async def test_a_member_cannot_set_capacity(
        self, time_api: httpx.AsyncClient, tenant: Agency, agency: Caller, join: Join
    ) -> None:
        member = tenant.caller("member")
        await join(member)
        for target in (member, agency):
            response = await set_capacity(time_api, member, target, 10)
            assert_problem(response, 403, "permission-denied")
        row = (await roster(time_api, agency))[str(member.user_id)]
        assert row["weekly_capacity_hours"] == 40.0

    async def test_unknown_and_other_agencys_people_answer_404(
        self,
        time_api: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
        other_agency: Caller,
        join: Join,
    ) -> None:
        # one client user the roster heard of, one only identity knows
        heard_of = tenant.caller("client")
        await join(heard_of)
        only_in_identity = tenant.caller("client")
        await join(other_agency)
        for stranger in (
            uuid.uuid4(),
            other_agency.user_id,
            heard_of.user_id,
            only_in_identity.user_id,
        ):
            put = await set_capacity(time_api, agency, stranger, 10)
            assert_problem(put, 404, "not-found")
            get = await time_api.get(f"/v1/capacity/{stranger}", headers=agency.headers)
            assert_problem(get, 404, "not-found")
        assert str(other_agency.user_id) in await roster(time_api, other_agency)
        assert str(other_agency.user_id) not in await roster(time_api, agency)
