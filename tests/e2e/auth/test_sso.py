"""Single sign-on through the gateway against the local stack's real OpenID provider, as a
browser does it: the agency's start address redirects to the provider, its login page signs
the person in and redirects back to the gateway's callback, which answers tokens that work on
the platform; a callback URL replayed is refused; "SSO required" refuses a member's password
but not the owner's."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from agencyos.testing import oidc
from agencyos.testing.factories import PASSWORD, AgencySession, add_member
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


async def configure(
    gateway: httpx.AsyncClient, owner: AgencySession, domain: str, **extra: object
) -> str:
    issuer = oidc.new_issuer("e2e")
    response = await gateway.put(
        "/v1/agency/sso",
        json={
            "issuer": issuer,
            "client_id": "agencyos-e2e",
            "client_secret": "e2e-client-secret",
            "allowed_email_domains": [domain],
            **extra,
        },
        headers=owner.headers,
    )
    assert response.status_code == 200, response.text
    return issuer


class TestSingleSignOn:
    async def test_a_new_person_signs_in_through_the_provider_and_joins_the_agency(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await oidc.ensure_running()
        domain = f"staff-{uuid.uuid4().hex[:8]}.example"
        issuer = await configure(gateway, agency, domain, default_role="member")
        email = f"ada@{domain}"

        # The browser: no token anywhere, redirects followed as they come.
        async with httpx.AsyncClient(follow_redirects=True, timeout=30.0) as browser:
            start = f"{platform.gateway_url}/v1/auth/sso/{agency.slug}/start"
            login_page = await browser.get(start)
            assert login_page.status_code == 200, login_page.text
            assert str(login_page.url).startswith(f"{issuer}/authorize?")
            signed_in = await browser.post(
                login_page.url,
                data={
                    "username": "ada",
                    "claims": json.dumps(oidc.person_claims(email, name="Ada Lovelace")),
                },
            )
            callback_url = str(signed_in.url)
            replayed = await browser.get(callback_url)

        assert callback_url.startswith(f"{platform.gateway_url}/v1/auth/sso/callback?")
        assert signed_in.status_code == 200, signed_in.text
        body = signed_in.json()
        assert (body["agency"]["id"], body["user"]["email"]) == (str(agency.agency_id), email)
        assert unverified_jwt(body["access_token"])[1]["amr"] == ["sso"]
        me = await gateway.get(
            "/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"}
        )
        assert me.status_code == 200, me.text
        assert (me.json()["role"], me.json()["user"]["name"]) == ("member", "Ada Lovelace")
        members = await gateway.get("/v1/members", headers=agency.headers)
        assert email in members.text
        assert_problem(replayed, 400, "sso-state-invalid")

    async def test_sso_required_refuses_a_members_password_but_not_the_owners(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await oidc.ensure_running()
        member = await add_member(platform, gateway, agency, "admin")
        await configure(gateway, agency, "example.com", sso_required=True)

        refused = await gateway.post(
            "/v1/auth/login", json={"email": member.email, "password": PASSWORD}
        )
        owner = await gateway.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )

        problem = assert_problem(refused, 403, "sso-required")
        assert problem["sso_start_url"] == f"/v1/auth/sso/{agency.slug}/start"
        assert owner.status_code == 200, owner.text
