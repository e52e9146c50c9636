"""Tuning or resetting a role tells each member of it whose effective permissions changed
(`identity.member.permissions_changed`), suspended members too; nobody else, and nobody when
nothing changed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

PERMISSIONS_CHANGED = "identity.member.permissions_changed"
MEMBER = DEFAULT_ROLE_PERMISSIONS[Role.MEMBER]


async def told(outbox: Outbox, agency: AgencySession) -> dict[str, list[dict[str, Any]]]:
    """The permissions_changed payloads identity wrote for `agency`, by member."""
    by_member: dict[str, list[dict[str, Any]]] = {}
    for event in await outbox(PERMISSIONS_CHANGED, agency.agency_id):
        by_member.setdefault(event["data"]["user_id"], []).append(event["data"])
    return by_member


async def tune(
    identity: httpx.AsyncClient, who: AgencySession, role: str, permissions: set[str]
) -> None:
    response = await identity.put(
        f"/v1/roles/{role}", json={"permissions": sorted(permissions)}, headers=who.headers
    )
    assert response.status_code == 200, response.text


async def reset(identity: httpx.AsyncClient, who: AgencySession, role: str) -> None:
    response = await identity.post(f"/v1/roles/{role}/reset", headers=who.headers)
    assert response.status_code == 200, response.text


def key(who: AgencySession | uuid.UUID) -> str:
    return str(who.user_id if isinstance(who, AgencySession) else who)


class TestTuningARole:
    async def test_each_member_of_the_role_active_or_suspended_is_told_their_new_set(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        active = await add_member(agency, "member")
        suspended = await add_member(agency, "member")
        await add_member(agency, "manager")
        suspend = await identity.post(
            f"/v1/members/{suspended.user_id}/suspend", headers=agency.headers
        )
        assert suspend.status_code == 200, suspend.text

        await tune(identity, agency, "member", MEMBER | {"invoices.read"})

        events = await told(outbox, agency)
        # Neither the manager nor the owner: only the role's members.
        assert set(events) == {key(active), key(suspended)}
        for who in (active, suspended):
            assert events[key(who)] == [
                {
                    "agency_id": str(agency.agency_id),
                    "user_id": key(who),
                    "role": "member",
                    "permissions": sorted(MEMBER | {"invoices.read"}),
                    "changed_by": str(agency.user_id),
                }
            ]

    async def test_a_member_whose_overrides_already_decide_the_change_is_not_told(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        granted_already = await add_member(agency, "member")
        plain = await add_member(agency, "member")
        response = await identity.put(
            f"/v1/members/{granted_already.user_id}/permissions",
            json={"granted": ["invoices.read"]},
            headers=agency.headers,
        )
        assert response.status_code == 200, response.text
        before = await told(outbox, agency)

        await tune(identity, agency, "member", MEMBER | {"invoices.read"})

        after = await told(outbox, agency)
        assert after[key(granted_already)] == before[key(granted_already)]
        assert len(after[key(plain)]) == 1

    async def test_the_set_told_keeps_the_members_own_overrides(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        response = await identity.put(
            f"/v1/members/{member.user_id}/permissions",
            json={"revoked": ["clients.read"]},
            headers=agency.headers,
        )
        assert response.status_code == 200, response.text

        await tune(identity, agency, "member", MEMBER | {"invoices.read"})

        *_, told_now = (await told(outbox, agency))[key(member)]
        assert told_now["permissions"] == sorted((MEMBER | {"invoices.read"}) - {"clients.read"})

    async def test_tuning_a_role_to_the_set_it_has_tells_nobody(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        await add_member(agency, "member")

        await tune(identity, agency, "member", set(MEMBER))

        assert await told(outbox, agency) == {}


class TestResettingARole:
    async def test_members_are_told_the_default_set_again(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        await tune(identity, agency, "member", MEMBER - {"clients.read"})

        await reset(identity, agency, "member")

        assert [e["permissions"] for e in (await told(outbox, agency))[key(member)]] == [
            sorted(MEMBER - {"clients.read"}),
            sorted(MEMBER),
        ]

    async def test_resetting_a_role_never_tuned_tells_nobody(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        await add_member(agency, "member")

        await reset(identity, agency, "member")

        assert await told(outbox, agency) == {}


class TestConcurrentChanges:
    """The last event about a member tells the set identity holds once both changes are in,
    whichever commits first: a consumer keeping the last event never keeps a stale set."""

    async def test_tuning_the_role_while_members_overrides_change(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        members = [await add_member(agency, "member") for _ in range(3)]
        for round_ in range(4):
            gained = {"invoices.read"} if round_ % 2 else {"invoices.read", "timesheets.approve"}

            await asyncio.gather(
                *(
                    identity.put(
                        f"/v1/members/{m.user_id}/permissions",
                        json={"revoked": ["clients.read"] if round_ % 2 else ["members.read"]},
                        headers=agency.headers,
                    )
                    for m in members
                ),
                tune(identity, agency, "member", MEMBER | gained),
            )

            for m in members:
                held = await identity.get(f"/v1/members/{m.user_id}", headers=agency.headers)
                *_, last = (await told(outbox, agency))[key(m)]
                assert last["permissions"] == held.json()["permissions"], round_

    async def test_two_tunings_of_one_role_at_once(
        self,
        outbox: Outbox,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        for round_ in range(4):
            await asyncio.gather(
                tune(identity, agency, "member", MEMBER | {"invoices.read"}),
                tune(identity, agency, "member", MEMBER - {"clients.read"}),
            )

            held = await identity.get(f"/v1/members/{member.user_id}", headers=agency.headers)
            events = (await told(outbox, agency)).get(key(member), [])
            told_last = events[-1]["permissions"] if events else sorted(MEMBER)
            assert told_last == held.json()["permissions"], round_
