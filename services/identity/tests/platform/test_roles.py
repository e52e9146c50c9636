"""Roles tuned by an agency, enforced by another service (CRM) once the member's token is
refreshed: the tuned set, and the defaults put back."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.platform import Platform


async def roles(gateway: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await gateway.get("/v1/roles", headers=who.headers)
    assert response.status_code == 200, response.text
    return {item["role"]: item for item in response.json()["items"]}


async def tune(
    gateway: httpx.AsyncClient, who: AgencySession, role: str, permissions: list[str]
) -> httpx.Response:
    return await gateway.put(
        f"/v1/roles/{role}", json={"permissions": permissions}, headers=who.headers
    )


class TestTuningRoles:
    async def test_a_tuned_role_is_enforced_by_other_services_after_a_refresh(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        assert (await gateway.get("/v1/clients", headers=member.headers)).status_code == 200
        without_clients = sorted(DEFAULT_ROLE_PERMISSIONS[Role.MEMBER] - {"clients.read"})

        response = await tune(gateway, agency, "member", without_clients)

        assert response.status_code == 200, response.text
        assert response.json()["customized"] is True
        member = await refreshed(gateway, member)
        assert "clients.read" not in unverified_jwt(member.access_token)[1]["perms"]
        assert_problem(await gateway.get("/v1/clients", headers=member.headers), 403)

    async def test_a_reset_puts_the_defaults_back(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        await tune(gateway, agency, "member", ["agency.read"])

        response = await gateway.post("/v1/roles/member/reset", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert (await roles(gateway, agency))["member"]["customized"] is False
        member = await refreshed(gateway, member)
        assert (await gateway.get("/v1/clients", headers=member.headers)).status_code == 200
