"""Signing in through an agency's provider (`/v1/auth/sso/{slug}/start` → the provider →
`/v1/auth/sso/callback`), as a person and as an attacker: the state is single-use and bound
to its agency, and the ID token must come from the agency's own provider, for its client,
for this sign-in's nonce, unexpired, with a verified email at one of its domains."""

from __future__ import annotations

import time
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agencyos.testing import oidc
from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.http import assert_problem, unverified_jwt

from ..conftest import AddMember, Outbox, _rows
from .conftest import Configure, SignIn, callback_of, finish, start


def audit_actions(events: list[dict[str, object]]) -> list[str]:
    return [e["data"]["action"] for e in events]  # type: ignore[index]


async def failures(outbox: Outbox, agency: AgencySession) -> list[dict[str, object]]:
    return [
        e["data"]
        for e in await outbox("audit.recorded", agency.agency_id)
        if e["data"]["action"] == "auth.sso_login_failed"
    ]


class TestStart:
    async def test_start_redirects_to_the_provider_with_pkce_state_and_nonce(
        self, identity: httpx.AsyncClient, agency: AgencySession, configure: Configure
    ) -> None:
        provider = await configure(agency)

        location = await start(identity, agency.slug)

        parts = urlsplit(location)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{provider.issuer}/authorize"
        assert query["response_type"] == "code"
        assert query["client_id"] == provider.client_id
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43
        assert len(query["state"]) >= 43
        assert len(query["nonce"]) >= 43
        assert query["redirect_uri"].endswith("/v1/auth/sso/callback")
        assert "openid" in query["scope"].split()

    async def test_each_start_has_its_own_state_and_nonce(
        self, identity: httpx.AsyncClient, agency: AgencySession, configure: Configure
    ) -> None:
        await configure(agency)

        first = callback_of(await start(identity, agency.slug))
        second = callback_of(await start(identity, agency.slug))

        assert first.params["state"] != second.params["state"]
        assert first.params["nonce"] != second.params["nonce"]

    async def test_an_agency_without_sso_or_an_unknown_slug_gets_the_same_404(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        unconfigured = await identity.get(f"/v1/auth/sso/{agency.slug}/start")
        unknown = await identity.get(f"/v1/auth/sso/nobody-{uuid.uuid4().hex[:8]}/start")

        first = assert_problem(unconfigured, 404, "sso-not-configured")
        second = assert_problem(unknown, 404, "sso-not-configured")
        assert first["detail"] == second["detail"]

    async def test_a_disabled_configuration_does_not_start(
        self, identity: httpx.AsyncClient, agency: AgencySession, configure: Configure
    ) -> None:
        await configure(agency, enabled=False)

        response = await identity.get(f"/v1/auth/sso/{agency.slug}/start")

        assert_problem(response, 404, "sso-not-configured")


class TestFirstSignIn:
    async def test_a_new_person_of_an_allowed_domain_joins_with_the_default_role(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
        outbox: Outbox,
    ) -> None:
        provider = await configure(agency, default_role="manager")
        email = provider.email("ada")

        response = await sso_sign_in(agency.slug, email)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["agency"]["id"] == str(agency.agency_id)
        assert body["user"]["email"] == email
        _, claims = unverified_jwt(body["access_token"])
        assert claims["amr"] == ["sso"]
        assert (claims["tid"], claims["role"]) == (str(agency.agency_id), "manager")
        added = [
            e["data"]
            for e in await outbox("identity.member.added", agency.agency_id)
            if e["data"]["email"] == email
        ]
        assert len(added) == 1
        assert added[0]["role"] == "manager"
        actions = audit_actions(await outbox("audit.recorded", agency.agency_id))
        assert "member.joined_by_sso" in actions
        assert "auth.sso_login" in actions

    async def test_a_provider_that_takes_the_secret_in_the_form_works_too(
        self,
        identity_service: object,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        provider = await configure(agency)
        # as saved for a provider whose discovery lists only client_secret_post
        await _rows(
            identity_service,  # type: ignore[arg-type]
            "UPDATE sso_configurations SET token_endpoint_auth_method = 'client_secret_post' "
            "WHERE tenant_id = $1 RETURNING tenant_id",
            agency.agency_id,
            tenant_id=agency.agency_id,
        )

        response = await sso_sign_in(agency.slug, provider.email())

        assert response.status_code == 200, response.text

    async def test_the_new_account_has_no_password(
        self,
        identity: httpx.AsyncClient,
        identity_service: object,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        provider = await configure(agency)
        email = provider.email()
        assert (await sso_sign_in(agency.slug, email)).status_code == 200

        rows = await _rows(
            identity_service,  # type: ignore[arg-type]
            "SELECT password_hash FROM users WHERE email = $1",
            email,
        )
        login = await identity.post("/v1/auth/login", json={"email": email, "password": PASSWORD})

        assert rows[0]["password_hash"] is None
        assert_problem(login, 401, "unauthenticated")

    async def test_an_existing_member_signs_in_without_joining_again(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
        sso_sign_in: SignIn,
        outbox: Outbox,
    ) -> None:
        member = await add_member(agency, "admin")
        await configure(agency, domain="example.com")

        response = await sso_sign_in(agency.slug, member.email)

        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == str(member.user_id)
        _, claims = unverified_jwt(response.json()["access_token"])
        assert claims["role"] == "admin"
        assert "member.joined_by_sso" not in audit_actions(
            await outbox("audit.recorded", agency.agency_id)
        )

    async def test_the_sessions_refresh_tokens_keep_saying_sso(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        provider = await configure(agency)
        signed_in = await sso_sign_in(agency.slug, provider.email())

        refreshed = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": signed_in.json()["refresh_token"]}
        )

        assert refreshed.status_code == 200, refreshed.text
        assert unverified_jwt(refreshed.json()["access_token"])[1]["amr"] == ["sso"]

    async def test_a_single_sign_on_session_cannot_switch_to_the_persons_other_agencies(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        add_membership: object,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        # The agency's owners chose the provider: what it vouches for proves nothing to the
        # person's other agencies (an owner's own provider could claim anyone's email).
        await configure(agency, domain="example.com")
        await add_membership(agency, other_agency.user_id, "member")  # type: ignore[operator]
        signed_in = await sso_sign_in(agency.slug, other_agency.email)
        assert signed_in.status_code == 200, signed_in.text

        response = await identity.post(
            "/v1/auth/switch",
            json={"agency_id": str(other_agency.agency_id)},
            headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"},
        )

        assert_problem(response, 403)

    async def test_a_single_sign_on_session_does_not_see_the_persons_other_agencies(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        add_membership: object,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        await configure(agency, domain="example.com")
        await add_membership(agency, other_agency.user_id, "member")  # type: ignore[operator]
        signed_in = await sso_sign_in(agency.slug, other_agency.email)
        by_password = await identity.get("/v1/me", headers=other_agency.headers)

        me = await identity.get(
            "/v1/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        )

        assert me.status_code == 200, me.text
        assert [m["agency"]["id"] for m in me.json()["memberships"]] == [str(agency.agency_id)]
        assert len(by_password.json()["memberships"]) == 2


class TestAttacks:
    async def test_a_replayed_state_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
    ) -> None:
        provider = await configure(agency)
        authorization = await start(identity, agency.slug)
        location = await oidc.sign_in(
            authorization, subject="ada", claims=oidc.person_claims(provider.email())
        )
        callback = callback_of(location)
        assert (await finish(identity, callback)).status_code == 200

        replayed = await finish(identity, callback)

        assert_problem(replayed, 400, "sso-state-invalid")

    @pytest.mark.parametrize(
        "tamper",
        ["flip", "missing", "made-up"],
        ids=["flipped-character", "missing", "made-up"],
    )
    async def test_a_tampered_state_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        tamper: str,
    ) -> None:
        provider = await configure(agency)
        location = await oidc.sign_in(
            await start(identity, agency.slug),
            subject="ada",
            claims=oidc.person_claims(provider.email()),
        )
        params = dict(callback_of(location).params)
        if tamper == "flip":
            state = params["state"]
            params["state"] = state[:-1] + ("A" if state[-1] != "A" else "B")
        elif tamper == "missing":
            del params["state"]
        else:
            params["state"] = "x" * 43

        response = await identity.get("/v1/auth/sso/callback", params=params)

        assert_problem(response, 400, "sso-state-invalid")
        assert "access_token" not in response.text

    async def test_a_failed_callback_burns_its_state(
        self, identity: httpx.AsyncClient, agency: AgencySession, configure: Configure
    ) -> None:
        provider = await configure(agency)
        location = await oidc.sign_in(
            await start(identity, agency.slug),
            subject="ada",
            claims=oidc.person_claims(provider.email(), nonce="not-this-sign-ins"),
        )
        callback = callback_of(location)

        first = await finish(identity, callback)
        second = await finish(identity, callback)

        assert_problem(first, 401, "sso-sign-in-failed")
        assert_problem(second, 400, "sso-state-invalid")

    async def test_an_id_token_minted_for_another_nonce_is_refused_and_audited(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
        outbox: Outbox,
    ) -> None:
        provider = await configure(agency)
        email = provider.email()

        response = await sso_sign_in(agency.slug, email, nonce="another-sign-ins-nonce")

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "nonce_mismatch"
        recorded = await failures(outbox, agency)
        assert [r["detail"]["reason"] for r in recorded] == ["nonce_mismatch"]  # type: ignore[index]
        assert recorded[0]["actor_type"] == "anonymous"

    async def test_a_token_naming_another_agencys_provider_as_issuer_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        mine = await configure(agency)
        theirs = await configure(other_agency)

        response = await sso_sign_in(agency.slug, mine.email(), iss=theirs.issuer)

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "issuer_mismatch"

    async def test_a_token_for_another_client_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        provider = await configure(agency)

        response = await sso_sign_in(agency.slug, provider.email(), aud="another-client")

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "audience_mismatch"

    async def test_an_expired_id_token_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        provider = await configure(agency)
        an_hour_ago = int(time.time()) - 3600

        response = await sso_sign_in(
            agency.slug, provider.email(), exp=an_hour_ago, iat=an_hour_ago - 60
        )

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "token_expired"

    async def test_an_email_at_a_domain_not_allowed_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
        outbox: Outbox,
    ) -> None:
        await configure(agency)
        outsider = f"mallory-{uuid.uuid4().hex[:6]}@elsewhere.example"

        response = await sso_sign_in(agency.slug, outsider)

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "domain_not_allowed"
        recorded = await failures(outbox, agency)
        assert recorded[0]["actor_label"] == outsider
        assert "member.joined_by_sso" not in audit_actions(
            await outbox("audit.recorded", agency.agency_id)
        )

    @pytest.mark.parametrize("verified", [False, "true", None], ids=["false", "string", "absent"])
    async def test_an_email_the_provider_has_not_verified_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        sso_sign_in: SignIn,
        verified: object,
    ) -> None:
        provider = await configure(agency)
        authorization = await start(identity, agency.slug)
        claims = oidc.person_claims(provider.email())
        if verified is None:
            del claims["email_verified"]
        else:
            claims["email_verified"] = verified
        location = await oidc.sign_in(authorization, subject="eve", claims=claims)

        response = await finish(identity, callback_of(location))

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "email_not_verified"

    async def test_a_suspended_member_is_refused(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        add_member: AddMember,
        configure: Configure,
        sso_sign_in: SignIn,
    ) -> None:
        member = await add_member(agency, "member")
        await configure(agency, domain="example.com")
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        response = await sso_sign_in(agency.slug, member.email)

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "membership_inactive"

    async def test_the_provider_refusing_the_sign_in_is_recorded(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        configure: Configure,
        outbox: Outbox,
    ) -> None:
        await configure(agency)
        state = callback_of(await start(identity, agency.slug)).params["state"]

        response = await identity.get(
            "/v1/auth/sso/callback", params={"state": state, "error": "access_denied"}
        )

        problem = assert_problem(response, 401, "sso-sign-in-failed")
        assert problem["reason"] == "provider_refused"
        assert len(await failures(outbox, agency)) == 1
