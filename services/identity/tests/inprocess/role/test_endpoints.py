"""Roles and their permissions: the defaults, the catalogue, an agency tuning a role (only its
owners, only known permissions, per agency) and putting the defaults back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_invalid_fields, assert_problem

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]


async def roles(identity: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await identity.get("/v1/roles", headers=who.headers)
    assert response.status_code == 200, response.text
    return {item["role"]: item for item in response.json()["items"]}


async def tune(
    identity: httpx.AsyncClient, who: AgencySession, role: str, permissions: list[str]
) -> httpx.Response:
    return await identity.put(
        f"/v1/roles/{role}", json={"permissions": permissions}, headers=who.headers
    )


class TestReadingRoles:
    async def test_every_role_is_listed_with_its_default_permissions(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        listed = await roles(identity, member)

        assert list(listed) == ["owner", "admin", "manager", "member", "client"]
        assert listed["owner"]["permissions"] == sorted(ALL_PERMISSIONS)
        assert listed["owner"]["tunable"] is False
        for role in ("admin", "manager", "member", "client"):
            assert listed[role]["permissions"] == sorted(DEFAULT_ROLE_PERMISSIONS[Role(role)])
            assert listed[role]["customized"] is False

    async def test_the_catalogue_names_every_permission(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.get("/v1/roles", headers=agency.headers)

        assert response.json()["all_permissions"] == sorted(ALL_PERMISSIONS)


class TestTuningRoles:
    async def test_tuning_is_per_agency(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await tune(identity, agency, "manager", ["agency.read"])

        theirs = await roles(identity, other_agency)

        assert theirs["manager"]["customized"] is False
        assert (await roles(identity, agency))["manager"]["permissions"] == ["agency.read"]

    async def test_only_owners_tune_roles(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")

        assert_problem(await tune(identity, admin, "admin", sorted(ALL_PERMISSIONS)), 403)
        assert_problem(await identity.post("/v1/roles/member/reset", headers=admin.headers), 403)

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
        identity: httpx.AsyncClient,
        agency: AgencySession,
        role: str,
        permissions: list[str],
        field: str,
    ) -> None:
        assert_invalid_fields(await tune(identity, agency, role, permissions), field)
