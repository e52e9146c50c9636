"""Members, where CRM is part of the rule (so both run as processes): binding a member to a
client company asks CRM whether the client is the agency's, and a narrowed permission set is
enforced by CRM after a refresh."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.factories import (
    AgencySession,
    add_member,
    create_crm_client,
    refreshed,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.platform import Platform


def member_url(who: AgencySession | uuid.UUID) -> str:
    user_id = who.user_id if isinstance(who, AgencySession) else who
    return f"/v1/members/{user_id}"


async def set_role(
    gateway: httpx.AsyncClient, actor: AgencySession, target: AgencySession, role: str, **extra: Any
) -> httpx.Response:
    return await gateway.patch(
        member_url(target), json={"role": role, **extra}, headers=actor.headers
    )


class TestChangingRoles:
    async def test_a_client_role_needs_a_client_of_this_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        ours = await create_crm_client(platform, agency)
        theirs = await create_crm_client(platform, other_agency)

        assert_invalid_fields(await set_role(gateway, agency, member, "client"), "client_id")
        assert_invalid_fields(
            await set_role(gateway, agency, member, "client", client_id=str(theirs)), "client_id"
        )
        assert_invalid_fields(
            await set_role(gateway, agency, member, "admin", client_id=str(ours)), "client_id"
        )
        bound = await set_role(gateway, agency, member, "client", client_id=str(ours))
        assert bound.status_code == 200, bound.text
        assert bound.json()["client_id"] == str(ours)


class TestPermissionOverrides:
    async def test_the_owner_grants_and_revokes_single_permissions(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        response = await gateway.put(
            f"{member_url(member)}/permissions",
            json={"granted": ["invoices.read"], "revoked": ["clients.read"]},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert "invoices.read" in response.json()["permissions"]
        assert "clients.read" not in response.json()["permissions"]
        member = await refreshed(gateway, member)
        assert_problem(await gateway.get("/v1/clients", headers=member.headers), 403)
        me = (await gateway.get("/v1/me", headers=member.headers)).json()
        assert "invoices.read" in me["permissions"]
