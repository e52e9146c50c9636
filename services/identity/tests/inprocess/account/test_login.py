"""Login (`POST /v1/auth/login`): the right password, any letter case of the email, one
401 for every wrong answer, and choosing one of the user's agencies by its slug."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt, without_trace

AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]


async def login(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/auth/login", json=body)


class TestLogin:
    async def test_the_right_password_returns_tokens_for_the_users_agency(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        response = await login(identity, email=owner.email, password=PASSWORD)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["agency"]["id"] == str(owner.agency_id)
        assert body["user"]["id"] == str(owner.user_id)
        assert body["token_type"] == "bearer"
        _, claims = unverified_jwt(body["access_token"])
        assert (claims["sub"], claims["tid"], claims["role"]) == (
            str(owner.user_id),
            str(owner.agency_id),
            "owner",
        )

    async def test_the_email_matches_in_any_letter_case(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)

        response = await login(identity, email=owner.email.upper(), password=PASSWORD)

        assert response.status_code == 200, response.text

    async def test_a_wrong_password_and_an_unknown_email_get_the_identical_401(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        wrong_password = await login(identity, email=owner.email, password="not the password")
        unknown_email = await login(
            identity, email=f"nobody-{uuid.uuid4().hex[:8]}@example.com", password=PASSWORD
        )

        first = assert_problem(wrong_password, 401, "unauthenticated")
        second = assert_problem(unknown_email, 401, "unauthenticated")
        assert without_trace(first) == without_trace(second)
        challenges = {r.headers["www-authenticate"] for r in (wrong_password, unknown_email)}
        assert len(challenges) == 1
        assert "access_token" not in wrong_password.text


class TestLoginWithAgencySlug:
    async def test_a_user_in_two_agencies_gets_a_token_for_the_agency_named_by_slug(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "manager")

        response = await login(
            identity, email=home.email, password=PASSWORD, agency_slug=second.slug
        )

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(second.agency_id)
        _, claims = unverified_jwt(response.json()["access_token"])
        assert claims["tid"] == str(second.agency_id)
        assert claims["role"] == "manager"

    async def test_without_a_slug_the_user_gets_their_first_agency(
        self, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "manager")

        response = await login(identity, email=home.email, password=PASSWORD)

        assert response.status_code == 200, response.text
        assert response.json()["agency"]["id"] == str(home.agency_id)

    @pytest.mark.parametrize("whose", ["another-agency", "no-agency"])
    async def test_a_slug_the_user_is_not_a_member_of_gets_the_same_401_as_a_bad_password(
        self, identity: httpx.AsyncClient, whose: str
    ) -> None:
        owner = await signup_agency(identity)
        stranger = await signup_agency(identity)
        slug = stranger.slug if whose == "another-agency" else f"none-{uuid.uuid4().hex[:8]}"

        not_member = await login(identity, email=owner.email, password=PASSWORD, agency_slug=slug)
        bad_password = await login(identity, email=owner.email, password="not the password")

        assert without_trace(assert_problem(not_member, 401, "unauthenticated")) == (
            without_trace(assert_problem(bad_password, 401, "unauthenticated"))
        )
