"""The member events that carry what a member may do: `identity.member.role_changed` with the
effective set under the new role (two for an ownership transfer), and
`identity.member.permissions_changed` when overrides change that set, and only then."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

ROLE_CHANGED = "identity.member.role_changed"
PERMISSIONS_CHANGED = "identity.member.permissions_changed"
MEMBER = DEFAULT_ROLE_PERMISSIONS[Role.MEMBER]


async def events_about(
    outbox: Outbox, agency: AgencySession, event_type: str, user_id: uuid.UUID
) -> list[dict[str, Any]]:
    return [
        e
        for e in await outbox(event_type, agency.agency_id)
        if e["data"]["user_id"] == str(user_id)
    ]


async def set_overrides(
    identity: httpx.AsyncClient,
    actor: AgencySession,
    target: AgencySession,
    granted: list[str] | None = None,
    revoked: list[str] | None = None,
) -> None:
    response = await identity.put(
        f"/v1/members/{target.user_id}/permissions",
        json={"granted": granted or [], "revoked": revoked or []},
        headers=actor.headers,
    )
    assert response.status_code == 200, response.text


class TestRoleChangedCarriesThePermissions:
    async def test_a_promotion_carries_the_set_of_the_new_role(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        (event,) = await events_about(outbox, agency, ROLE_CHANGED, member.user_id)
        assert event["data"] == {
            "agency_id": str(agency.agency_id),
            "user_id": str(member.user_id),
            "old_role": "member",
            "new_role": "manager",
            "client_id": None,
            "changed_by": str(agency.user_id),
            "permissions": sorted(DEFAULT_ROLE_PERMISSIONS[Role.MANAGER]),
        }

    async def test_the_members_overrides_still_apply_under_the_new_role(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        await set_overrides(identity, agency, member, granted=["roles.write"])

        await identity.patch(
            f"/v1/members/{member.user_id}", json={"role": "manager"}, headers=agency.headers
        )

        (event,) = await events_about(outbox, agency, ROLE_CHANGED, member.user_id)
        manager = DEFAULT_ROLE_PERMISSIONS[Role.MANAGER]
        assert event["data"]["permissions"] == sorted(manager | {"roles.write"})

    async def test_an_ownership_transfer_gives_each_member_their_own_set(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        admin = await add_member(agency, "admin")

        response = await identity.post(
            f"/v1/members/{admin.user_id}/transfer-ownership", headers=agency.headers
        )

        assert response.status_code == 200, response.text
        (new_owner,) = await events_about(outbox, agency, ROLE_CHANGED, admin.user_id)
        (previous,) = await events_about(outbox, agency, ROLE_CHANGED, agency.user_id)
        assert (new_owner["data"]["new_role"], new_owner["data"]["permissions"]) == (
            "owner",
            sorted(ALL_PERMISSIONS),
        )
        assert (previous["data"]["new_role"], previous["data"]["permissions"]) == (
            "admin",
            sorted(DEFAULT_ROLE_PERMISSIONS[Role.ADMIN]),
        )


class TestOverridesTellTheNewSet:
    async def test_setting_overrides_publishes_the_members_whole_effective_set(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        await set_overrides(
            identity, agency, member, granted=["invoices.read"], revoked=["clients.read"]
        )

        (event,) = await events_about(outbox, agency, PERMISSIONS_CHANGED, member.user_id)
        assert event["subject"] == f"members/{member.user_id}"
        assert event["data"] == {
            "agency_id": str(agency.agency_id),
            "user_id": str(member.user_id),
            "role": "member",
            "permissions": sorted((MEMBER | {"invoices.read"}) - {"clients.read"}),
            "changed_by": str(agency.user_id),
        }

    async def test_the_same_overrides_again_publish_nothing_more(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        await set_overrides(identity, agency, member, granted=["invoices.read"])

        await set_overrides(identity, agency, member, granted=["invoices.read"])

        assert len(await events_about(outbox, agency, PERMISSIONS_CHANGED, member.user_id)) == 1

    async def test_granting_what_the_role_already_holds_publishes_nothing(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        held = sorted(MEMBER)[0]

        await set_overrides(identity, agency, member, granted=[held])

        assert await events_about(outbox, agency, PERMISSIONS_CHANGED, member.user_id) == []

    async def test_clearing_overrides_publishes_the_roles_set_again(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        await set_overrides(identity, agency, member, revoked=["clients.read"])

        await set_overrides(identity, agency, member)

        events = await events_about(outbox, agency, PERMISSIONS_CHANGED, member.user_id)
        assert [e["data"]["permissions"] for e in events] == [
            sorted(MEMBER - {"clients.read"}),
            sorted(MEMBER),
        ]


class TestRoleChangeWhileTheRoleIsTuned:
    async def test_the_last_event_about_the_member_tells_the_set_they_hold(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        """Whichever commits first, a consumer keeping the last event keeps the right set."""
        manager = DEFAULT_ROLE_PERMISSIONS[Role.MANAGER]
        for round_ in range(4):
            member = await add_member(agency, "member")
            tuned = manager - {"clients.write"} if round_ % 2 else manager | {"roles.write"}

            answers = await asyncio.gather(
                identity.patch(
                    f"/v1/members/{member.user_id}",
                    json={"role": "manager"},
                    headers=agency.headers,
                ),
                identity.put(
                    "/v1/roles/manager",
                    json={"permissions": sorted(tuned)},
                    headers=agency.headers,
                ),
            )

            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            held = await identity.get(f"/v1/members/{member.user_id}", headers=agency.headers)
            about = [
                e
                for e in await outbox(None, agency.agency_id)
                if e["type"] in (ROLE_CHANGED, PERMISSIONS_CHANGED)
                and e["data"]["user_id"] == str(member.user_id)
            ]
            assert about[-1]["data"]["permissions"] == held.json()["permissions"], round_
