"""Switching agencies: a user with memberships in several agencies trades a token for one
agency for tokens for another, and only for agencies they actively belong to."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]


async def switch(
    client: httpx.AsyncClient, who: AgencySession, agency_id: uuid.UUID | str
) -> httpx.Response:
    return await client.post(
        "/v1/auth/switch", json={"agency_id": str(agency_id)}, headers=who.headers
    )


async def two_agency_user(
    add_membership: AddMembership, client: httpx.AsyncClient, role: str
) -> tuple[AgencySession, AgencySession]:
    """An owner of one agency who is also `role` in a second agency."""
    home = await signup_agency(client)
    second = await signup_agency(client)
    await add_membership(second, home.user_id, role)
    return home, second


def comparable(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k != "trace_id"}


class TestSwitch:
    async def test_a_member_of_another_agency_gets_tokens_for_it_with_their_role_there(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home, second = await two_agency_user(add_membership, identity, "manager")

        response = await switch(identity, home, second.agency_id)

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {
            "agency",
            "user",
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
        }
        assert body["agency"]["id"] == str(second.agency_id)
        assert body["user"]["id"] == str(home.user_id)
        _, claims = unverified_jwt(body["access_token"])
        assert (claims["sub"], claims["tid"], claims["role"]) == (
            str(home.user_id),
            str(second.agency_id),
            "manager",
        )
        assert claims["sid"] != unverified_jwt(home.access_token)[1]["sid"]

    async def test_the_switched_token_shows_the_other_agency_in_me_through_the_gateway(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home, second = await two_agency_user(add_membership, identity, "admin")
        body = (await switch(identity, home, second.agency_id)).json()

        me = await identity.get(
            "/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )

        assert me.status_code == 200, me.text
        assert me.json()["agency"]["id"] == str(second.agency_id)
        assert me.json()["role"] == "admin"
        assert {m["agency"]["id"] for m in me.json()["memberships"]} == {
            str(home.agency_id),
            str(second.agency_id),
        }

    async def test_the_switched_session_refreshes_in_the_other_agency_and_the_first_lives_on(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home, second = await two_agency_user(add_membership, identity, "member")
        body = (await switch(identity, home, second.agency_id)).json()

        there = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )
        here = await identity.post("/v1/auth/refresh", json={"refresh_token": home.refresh_token})

        assert there.status_code == 200, there.text
        assert unverified_jwt(there.json()["access_token"])[1]["tid"] == str(second.agency_id)
        assert here.status_code == 200, here.text
        assert unverified_jwt(here.json()["access_token"])[1]["tid"] == str(home.agency_id)

    async def test_the_new_session_is_stored_under_the_other_agency(
        self,
        add_membership: AddMembership,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
    ) -> None:
        home, second = await two_agency_user(add_membership, identity, "member")
        body = (await switch(identity, home, second.agency_id)).json()

        rows = await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "SELECT tenant_id, user_id FROM refresh_tokens WHERE family_id = $1",
            uuid.UUID(unverified_jwt(body["access_token"])[1]["sid"]),
            tenant_id=second.agency_id,
            owner=True,
        )

        assert [(r["tenant_id"], r["user_id"]) for r in rows] == [(second.agency_id, home.user_id)]


class TestSwitchRefused:
    async def test_an_agency_the_user_is_not_in_and_a_random_id_get_the_identical_403(
        self, identity: httpx.AsyncClient
    ) -> None:
        user = await signup_agency(identity)
        stranger = await signup_agency(identity)

        not_member = await switch(identity, user, stranger.agency_id)
        nowhere = await switch(identity, user, uuid.uuid4())

        first = assert_problem(not_member, 403, "permission-denied")
        second = assert_problem(nowhere, 403, "permission-denied")
        assert comparable(first) == comparable(second)
        assert "access_token" not in not_member.text

    async def test_a_suspended_membership_gets_the_same_403(
        self,
        add_membership: AddMembership,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
    ) -> None:
        home, second = await two_agency_user(add_membership, identity, "member")
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "UPDATE memberships SET status = 'suspended' WHERE user_id = $1",
            home.user_id,
            tenant_id=second.agency_id,
            owner=True,
        )

        suspended = await switch(identity, home, second.agency_id)
        nowhere = await switch(identity, home, uuid.uuid4())

        assert comparable(assert_problem(suspended, 403, "permission-denied")) == comparable(
            assert_problem(nowhere, 403, "permission-denied")
        )

    async def test_another_users_agency_stays_closed_even_to_its_id_holder(
        self, identity: httpx.AsyncClient
    ) -> None:
        victim = await signup_agency(identity)
        attacker = await signup_agency(identity)

        response = await switch(identity, attacker, victim.agency_id)

        assert_problem(response, 403, "permission-denied")
        assert victim.agency_id.hex not in response.text

    async def test_switch_without_an_access_token_is_a_401(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await identity.post("/v1/auth/switch", json={"agency_id": str(owner.agency_id)})

        assert_problem(response, 401, "unauthenticated")

    async def test_an_agency_id_that_is_not_a_uuid_is_a_422(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await switch(identity, owner, "../../agencies")

        assert_invalid_fields(response, "agency_id")
