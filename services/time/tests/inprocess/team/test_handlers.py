"""Time's roster (`team/handlers.py`) kept from identity's member events, handed to time's own
consumer runner: signup and invitations fill it (never with client users), role changes,
suspension, reactivation and removal follow, and a capacity once set outlives them all."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.events import (
    AgencyCreated,
    EventPayload,
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
)
from agencyos.testing.inprocess import Agency, Caller

IdentitySays = Callable[[EventPayload], Awaitable[str]]
Join = Callable[..., Awaitable[None]]


async def roster(
    time_api: httpx.AsyncClient, who: Caller, **params: Any
) -> dict[str, dict[str, Any]]:
    response = await time_api.get(
        "/v1/capacity", params={"per_page": 200, **params}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return {m["user_id"]: m for m in response.json()["items"]}


class TestRoster:
    async def test_signup_and_invitations_fill_the_roster(
        self,
        time_api: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
        identity_says: IdentitySays,
        join: Join,
    ) -> None:
        # a signup: the agency with its owner, then the owner as a member (with the name)
        created = AgencyCreated(
            agency_id=tenant.id,
            slug=f"agency-{tenant.id.hex[:8]}",
            name="Agency",
            owner_user_id=agency.user_id,
            currency="EUR",
            timezone="UTC",
        )
        assert await identity_says(created) == "ok"
        await join(agency, name=f"Owner {agency.user_id.hex[:6]}")
        # invitations accepted
        await join(tenant.caller("client"))
        manager = tenant.caller("manager")
        await join(manager)
        member = tenant.caller("member")
        await join(member, name=f"Member {member.user_id.hex[:6]}")

        team = await roster(time_api, agency)
        owner_row = team[str(agency.user_id)]
        assert owner_row["name"].startswith("Owner ")
        assert owner_row["role"] == "owner"
        assert (owner_row["status"], owner_row["weekly_capacity_hours"]) == ("active", 40.0)
        assert team[str(manager.user_id)]["role"] == "manager"
        member_row = team[str(member.user_id)]
        assert member_row["role"] == "member"
        assert member_row["name"].startswith("Member ")
        # clients are never the team
        assert set(team) == {str(agency.user_id), str(manager.user_id), str(member.user_id)}
        assert [m["name"] for m in team.values()] == sorted(m["name"] for m in team.values())

    async def test_role_changes_suspension_and_removal_follow_identity(
        self,
        time_api: httpx.AsyncClient,
        tenant: Agency,
        agency: Caller,
        identity_says: IdentitySays,
        join: Join,
    ) -> None:
        member = tenant.caller("member")
        await join(member)
        assert (await roster(time_api, agency))[str(member.user_id)]["role"] == "member"
        set_30 = await time_api.put(
            f"/v1/capacity/{member.user_id}",
            json={"weekly_capacity_hours": 30},
            headers=agency.headers,
        )
        assert set_30.status_code == 200, set_30.text
        ids = {"agency_id": tenant.id, "user_id": member.user_id}

        promoted = MemberRoleChanged(
            **ids, old_role="member", new_role="manager", changed_by=agency.user_id
        )
        assert await identity_says(promoted) == "ok"
        assert (await roster(time_api, agency))[str(member.user_id)]["role"] == "manager"

        assert await identity_says(MemberSuspended(**ids, suspended_by=agency.user_id)) == "ok"
        suspended = await roster(time_api, agency, status="suspended")
        assert suspended[str(member.user_id)]["status"] == "suspended"

        back = MemberReactivated(**ids, reactivated_by=agency.user_id)
        assert await identity_says(back) == "ok"
        row = (await roster(time_api, agency, status="active"))[str(member.user_id)]
        assert (row["status"], row["role"]) == ("active", "manager")
        assert row["weekly_capacity_hours"] == 30.0

        removed = MemberRemoved(**ids, role="manager", removed_by=agency.user_id)
        assert await identity_says(removed) == "ok"
        gone = (await roster(time_api, agency, status="removed"))[str(member.user_id)]
        assert gone["status"] == "removed"
        assert gone["weekly_capacity_hours"] == 30.0
        assert str(member.user_id) not in await roster(time_api, agency)
