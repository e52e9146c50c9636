"""`GET /v1/me`: the caller, their agency, role and permissions, and their memberships."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]


async def login(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/auth/login", json=body)


class TestMe:
    async def test_the_owner_sees_their_role_every_permission_and_their_one_membership(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.get("/v1/me", headers=owner.headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert set(me) == {
            "kind",
            "user",
            "agency",
            "role",
            "permissions",
            "memberships",
            "restricted",
        }
        assert me["kind"] == "user"
        assert me["restricted"] is None
        assert me["user"] == {
            "id": str(owner.user_id),
            "email": owner.email,
            "name": me["user"]["name"],
        }
        assert me["agency"]["id"] == str(owner.agency_id)
        assert me["agency"]["slug"] == owner.slug
        assert me["role"] == "owner"
        assert me["permissions"] == sorted(ALL_PERMISSIONS)
        assert me["memberships"] == [{"agency": me["agency"], "role": "owner", "status": "active"}]

    async def test_a_member_sees_the_member_roles_default_permissions(
        self, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        member = await add_member(owner, "member")

        response = await identity.get("/v1/me", headers=member.headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert me["role"] == "member"
        assert me["permissions"] == sorted(DEFAULT_ROLE_PERMISSIONS[Role.MEMBER])
        assert "clients.write" not in me["permissions"]
        assert [m["role"] for m in me["memberships"]] == ["member"]

    async def test_a_user_in_two_agencies_sees_both_memberships_and_the_current_agency(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "admin")
        switched = await login(
            identity, email=home.email, password=PASSWORD, agency_slug=second.slug
        )
        headers = {"Authorization": f"Bearer {switched.json()['access_token']}"}

        response = await identity.get("/v1/me", headers=headers)

        assert response.status_code == 200, response.text
        me = response.json()
        assert me["agency"]["id"] == str(second.agency_id)
        assert me["role"] == "admin"
        assert {(m["agency"]["id"], m["role"]) for m in me["memberships"]} == {
            (str(home.agency_id), "owner"),
            (str(second.agency_id), "admin"),
        }

    async def test_me_without_a_token_is_a_401_problem(self, identity: httpx.AsyncClient) -> None:
        response = await identity.get("/v1/me")

        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")
