"""identity against hostile input and its wording: NUL in names at signup and in agency and
key names, NUL in query parameters, the `clients.export` permission in the roles, and
messages that put the right article before a role."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx

from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.http import assert_invalid_fields, assert_problem, send_json

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]


class TestNul:
    async def test_a_nul_in_the_agency_or_owner_name_at_signup_is_422_naming_it(
        self, identity: httpx.AsyncClient
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        body = {
            "agency_name": "Northwind",
            "email": f"nul-{tag}@example.com",
            "password": PASSWORD,
            "name": "Ada",
        }

        for field in ("agency_name", "name"):
            response = await send_json(
                identity, {}, "POST", "/v1/auth/signup", {**body, field: "a\x00"}
            )
            assert_invalid_fields(response, field)

    async def test_a_nul_in_agency_and_api_key_names_is_422(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        renamed = await send_json(
            identity, agency.headers, "PATCH", "/v1/agency", {"name": "x\x00y"}
        )
        key = await send_json(
            identity, agency.headers, "POST", "/v1/api-keys", {"name": "ci\x00", "role": "member"}
        )

        assert_invalid_fields(renamed, "name")
        assert_invalid_fields(key, "name")

    async def test_a_nul_in_the_member_search_is_422(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.get("/v1/members", params={"q": "a\x00"}, headers=agency.headers)

        assert_invalid_fields(response, "query.q")


class TestExportPermission:
    async def test_clients_export_is_a_permission_of_managers_and_up_but_not_members(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.get("/v1/roles", headers=agency.headers)
        assert response.status_code == 200, response.text
        listed = {item["role"]: item for item in response.json()["items"]}

        assert "clients.export" in response.json()["all_permissions"]
        for role in ("owner", "admin", "manager"):
            assert "clients.export" in listed[role]["permissions"], role
        for role in ("member", "client"):
            assert "clients.export" not in listed[role]["permissions"], role


class TestWording:
    async def test_an_admin_is_told_an_admin_cannot_make_owners(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")
        member = await add_member(agency, "member")

        response = await identity.patch(
            f"/v1/members/{member.user_id}", json={"role": "owner"}, headers=admin.headers
        )

        body = assert_problem(response, 403)
        assert body["detail"].startswith("an admin cannot"), body
