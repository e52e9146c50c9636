"""Roles and their permissions: the defaults, an agency tuning a role, and every service
enforcing the tuned set (crm here) once the member's token is refreshed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
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


class TestReadingRoles:
    async def test_every_role_is_listed_with_its_default_permissions(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        listed = await roles(gateway, member)

        assert list(listed) == ["owner", "admin", "manager", "member", "client"]
        assert listed["owner"]["permissions"] == sorted(ALL_PERMISSIONS)
        assert listed["owner"]["tunable"] is False
        for role in ("admin", "manager", "member", "client"):
            assert listed[role]["permissions"] == sorted(DEFAULT_ROLE_PERMISSIONS[Role(role)])
            assert listed[role]["customized"] is False

    async def test_the_catalogue_names_every_permission(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get("/v1/roles", headers=agency.headers)

        assert response.json()["all_permissions"] == sorted(ALL_PERMISSIONS)


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

    async def test_tuning_is_per_agency(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await tune(gateway, agency, "manager", ["agency.read"])

        theirs = await roles(gateway, other_agency)

        assert theirs["manager"]["customized"] is False
        assert (await roles(gateway, agency))["manager"]["permissions"] == ["agency.read"]

    async def test_only_owners_tune_roles(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(platform, gateway, agency, "admin")

        assert_problem(await tune(gateway, admin, "admin", sorted(ALL_PERMISSIONS)), 403)
        assert_problem(await gateway.post("/v1/roles/member/reset", headers=admin.headers), 403)

    @pytest.mark.parametrize(
        ("role", "permissions", "field"),
        [
            ("owner", ["agency.read"], "role"),
            ("member", ["agency.read", "launch.missiles"], "permissions"),
            ("wizard", ["agency.read"], "path.role"),
        ],
    )
    async def test_bad_tuning_is_422(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        role: str,
        permissions: list[str],
        field: str,
    ) -> None:
        assert_invalid_fields(await tune(gateway, agency, role, permissions), field)
