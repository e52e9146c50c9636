""" "SSO required": password sign-in to the agency is refused to its members, with a problem
that names where to sign in instead, but never to its owners (break-glass)."""

from __future__ import annotations

import httpx

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem

from ..conftest import AddMember, AddMembership
from .conftest import Configure


async def login(identity: httpx.AsyncClient, email: str, slug: str | None = None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if slug:
        body["agency_slug"] = slug
    return await identity.post("/v1/auth/login", json=body)


class TestSsoRequired:
    async def test_a_members_password_is_refused_with_the_start_route(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
    ) -> None:
        member = await add_member(agency, "admin")
        await configure(agency, sso_required=True)

        response = await login(identity, member.email)

        problem = assert_problem(response, 403, "sso-required")
        assert problem["sso_start_url"] == f"/v1/auth/sso/{agency.slug}/start"
        assert "access_token" not in response.text

    async def test_the_owners_password_still_works(
        self, identity: httpx.AsyncClient, agency: AgencySession, configure: Configure
    ) -> None:
        await configure(agency, sso_required=True)

        response = await login(identity, agency.email, agency.slug)

        assert response.status_code == 200, response.text

    async def test_a_wrong_password_gets_the_usual_401_not_the_sso_hint(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
    ) -> None:
        member = await add_member(agency, "member")
        await configure(agency, sso_required=True)

        response = await identity.post(
            "/v1/auth/login", json={"email": member.email, "password": "not the password"}
        )

        assert_problem(response, 401, "unauthenticated")

    async def test_without_sso_required_or_when_disabled_the_password_works(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
    ) -> None:
        member = await add_member(agency, "member")
        provider = await configure(agency)
        assert (await login(identity, member.email)).status_code == 200

        await configure(agency, issuer=provider.issuer, sso_required=True, enabled=False)

        assert (await login(identity, member.email)).status_code == 200

    async def test_a_member_of_two_agencies_gets_into_the_one_that_allows_passwords(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_membership: AddMembership,
        configure: Configure,
    ) -> None:
        person = await signup_agency(identity)
        # first membership: the person's own agency; then a member of the SSO-required one
        await add_membership(agency, person.user_id, "member")
        await configure(agency, sso_required=True)

        named = await login(identity, person.email, agency.slug)
        unnamed = await login(identity, person.email)

        assert_problem(named, 403, "sso-required")
        assert unnamed.status_code == 200, unnamed.text
        assert unnamed.json()["agency"]["id"] == str(person.agency_id)
