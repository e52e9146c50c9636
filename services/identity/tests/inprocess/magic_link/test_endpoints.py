"""Magic-link sign-in: the request that always answers the same 202 and writes
`identity.magic_link.requested` (carrying the token) to the outbox only for an active member
of the named agency, within the per-address limit; the emailed link (a GET that spends
nothing); and the POST that spends it once for tokens (`amr: ["email"]`), or for the second
step when two-factor is on."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pyotp
import pytest

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

REQUESTED = "identity.magic_link.requested"
ACCEPTED = {
    "status": "accepted",
    "detail": "if this email belongs to a member of this agency who may sign in by email, a "
    "sign-in link is on its way",
}
REFUSED = "the sign-in link is not valid; request a new one"


async def ask(identity: httpx.AsyncClient, email: str, slug: str) -> httpx.Response:
    return await identity.post("/v1/auth/magic-link", json={"email": email, "agency_slug": slug})


async def links_for(outbox: Outbox, user_id: uuid.UUID) -> list[dict[str, Any]]:
    return [e["data"] for e in await outbox(REQUESTED) if e["data"]["user_id"] == str(user_id)]


async def link_token(identity: httpx.AsyncClient, outbox: Outbox, who: AgencySession) -> str:
    response = await ask(identity, who.email, who.slug)
    assert response.status_code == 202, response.text
    links = await links_for(outbox, who.user_id)
    assert links, "no magic link was published"
    token: str = links[-1]["token"]
    return token


async def use(identity: httpx.AsyncClient, token: str) -> httpx.Response:
    return await identity.post("/v1/auth/magic-link/verify", json={"token": token})


async def rows(service: ServiceInProcess, query: str, *args: Any, tenant_id: Any = None) -> Any:
    return await fetch_rows(
        service.infra, service.database, query, *args, tenant_id=tenant_id, owner=True
    )


async def audit_actions(outbox: Outbox, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    return [e["data"] for e in await outbox("audit.recorded", tenant_id)]


class TestRequest:
    async def test_a_member_gets_a_link_to_their_agency(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")

        response = await ask(identity, member.email.upper(), agency.slug)

        assert (response.status_code, response.json()) == (202, ACCEPTED)
        [link] = await links_for(outbox, member.user_id)
        assert (link["agency_id"], link["agency_slug"], link["email"]) == (
            str(agency.agency_id),
            agency.slug,
            member.email,
        )
        assert link["token"].startswith("ml_")
        actions = [a["action"] for a in await audit_actions(outbox, agency.agency_id)]
        assert "auth.magic_link_requested" in actions

    async def test_the_token_is_stored_only_hashed(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        agency: AgencySession,
        identity_service: ServiceInProcess,
    ) -> None:
        token = await link_token(identity, outbox, agency)

        stored = await rows(identity_service, "SELECT token_hash FROM magic_link_tokens")
        assert token not in {r["token_hash"] for r in stored}
        assert all(len(r["token_hash"]) == 64 for r in stored)

    @pytest.mark.parametrize("case", ["unknown_email", "unknown_agency", "other_agency"])
    async def test_anyone_else_gets_the_same_answer_and_nothing_is_sent(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        agency: AgencySession,
        other_agency: AgencySession,
        case: str,
    ) -> None:
        email, slug = {
            "unknown_email": (f"nobody-{uuid.uuid4().hex[:8]}@example.com", agency.slug),
            "unknown_agency": (agency.email, f"no-such-{uuid.uuid4().hex[:8]}"),
            # a member of one agency asking in another's name
            "other_agency": (agency.email, other_agency.slug),
        }[case]
        before = len(await outbox(REQUESTED))

        response = await ask(identity, email, slug)

        assert (response.status_code, response.json()) == (202, ACCEPTED)
        assert len(await outbox(REQUESTED)) == before

    async def test_a_suspended_member_gets_the_same_answer_and_nothing(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code in (200, 204), suspended.text

        response = await ask(identity, member.email, agency.slug)

        assert (response.status_code, response.json()) == (202, ACCEPTED)
        assert await links_for(outbox, member.user_id) == []

    async def test_past_five_requests_an_address_gets_no_more_links_and_the_same_answer(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        answers = [await ask(identity, agency.email, agency.slug) for _ in range(7)]

        assert {(r.status_code, r.text) for r in answers} == {(202, answers[0].text)}
        assert len(await links_for(outbox, agency.user_id)) == 5

    async def test_a_field_that_is_missing_is_a_422_naming_it(
        self, identity: httpx.AsyncClient
    ) -> None:
        response = await identity.post("/v1/auth/magic-link", json={"email": "a@example.com"})

        body = assert_problem(response, 422)
        assert "agency_slug" in str(body["errors"])


class TestVerify:
    async def test_a_link_signs_in_once_with_amr_email(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        token = await link_token(identity, outbox, agency)

        first = await use(identity, token)
        second = await use(identity, token)

        assert first.status_code == 200, first.text
        _, claims = unverified_jwt(first.json()["access_token"])
        assert (claims["sub"], claims["tid"], claims["amr"]) == (
            str(agency.user_id),
            str(agency.agency_id),
            ["email"],
        )
        assert assert_problem(second, 400, "bad-request")["detail"] == REFUSED
        me = await identity.get(
            "/v1/me", headers={"Authorization": f"Bearer {first.json()['access_token']}"}
        )
        assert me.status_code == 200, me.text
        actions = await audit_actions(outbox, agency.agency_id)
        assert any(
            a["action"] == "auth.login_succeeded" and a["detail"]["method"] == "magic_link"
            for a in actions
        )
        assert any(
            a["action"] == "auth.login_failed" and a["detail"]["method"] == "magic_link"
            for a in actions
        )

    async def test_two_uses_at_once_sign_in_exactly_once(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        token = await link_token(identity, outbox, agency)

        answers = await asyncio.gather(*(use(identity, token) for _ in range(4)))

        assert sorted(r.status_code for r in answers) == [200, 400, 400, 400]

    async def test_the_emailed_get_spends_nothing(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        token = await link_token(identity, outbox, agency)

        looked = [
            await identity.get("/v1/auth/magic-link/verify", params={"token": token})
            for _ in range(2)
        ]

        assert [r.status_code for r in looked] == [200, 200]
        assert looked[0].json()["valid"] is True
        assert (await use(identity, token)).status_code == 200
        after = await identity.get("/v1/auth/magic-link/verify", params={"token": token})
        assert assert_problem(after, 400)["detail"] == REFUSED

    async def test_an_expired_link_is_refused(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        agency: AgencySession,
        identity_service: ServiceInProcess,
    ) -> None:
        token = await link_token(identity, outbox, agency)
        await rows(
            identity_service,
            "UPDATE magic_link_tokens SET expires_at = now() - interval '1 second' "
            "WHERE user_id = $1 RETURNING id",
            agency.user_id,
        )

        assert assert_problem(await use(identity, token), 400)["detail"] == REFUSED

    @pytest.mark.parametrize("token", ["ml_made-up", "x" * 256])
    async def test_a_made_up_token_is_refused_alike(
        self, identity: httpx.AsyncClient, token: str
    ) -> None:
        assert assert_problem(await use(identity, token), 400)["detail"] == REFUSED

    async def test_earlier_links_work_until_one_is_used(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        first = await link_token(identity, outbox, agency)
        second = await link_token(identity, outbox, agency)

        assert (await use(identity, first)).status_code == 200
        assert assert_problem(await use(identity, second), 400)["detail"] == REFUSED

    async def test_a_member_suspended_after_asking_cannot_use_the_link(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        member = await add_member(agency, "member")
        token = await link_token(identity, outbox, member)
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code in (200, 204), suspended.text

        assert assert_problem(await use(identity, token), 400)["detail"] == REFUSED

    async def test_a_client_user_gets_a_client_token(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        add_member: AddMember,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(agency, "client")
        token = await link_token(identity, outbox, client_user)

        response = await use(identity, token)

        assert response.status_code == 200, response.text
        _, claims = unverified_jwt(response.json()["access_token"])
        assert (claims["role"], claims["tid"], claims["amr"]) == (
            "client",
            str(agency.agency_id),
            ["email"],
        )
        assert claims["cid"]

    async def test_the_link_verifies_the_email_address(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        person = await signup_agency(identity, verified=False)
        token = await link_token(identity, outbox, person)

        response = await use(identity, token)

        assert response.status_code == 200, response.text
        _, claims = unverified_jwt(response.json()["access_token"])
        assert claims["email_verified"] is True


class TestTwoFactor:
    async def test_a_link_alone_does_not_pass_the_second_factor(
        self, identity: httpx.AsyncClient, outbox: Outbox, agency: AgencySession
    ) -> None:
        enrolled = await identity.post("/v1/auth/2fa/enroll", headers=agency.headers)
        assert enrolled.status_code == 200, enrolled.text
        totp = pyotp.TOTP(enrolled.json()["secret"])
        step = int(time.time() // 30)
        confirmed = await identity.post(
            "/v1/auth/2fa/confirm",
            json={"code": totp.generate_otp(step - 1)},
            headers=agency.headers,
        )
        assert confirmed.status_code == 200, confirmed.text
        token = await link_token(identity, outbox, agency)

        response = await use(identity, token)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mfa_required"] is True
        assert "access_token" not in body
        done = await identity.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": body["mfa_token"], "code": totp.generate_otp(step + 1)},
        )
        assert done.status_code == 200, done.text
        _, claims = unverified_jwt(done.json()["access_token"])
        assert claims["amr"] == ["email", "otp"]


class TestSingleSignOnRequired:
    async def test_staff_get_no_link_and_client_users_do(
        self,
        identity: httpx.AsyncClient,
        outbox: Outbox,
        add_member: AddMember,
        agency: AgencySession,
        identity_service: ServiceInProcess,
    ) -> None:
        staff = await add_member(agency, "member")
        client_user = await add_member(agency, "client")
        await rows(
            identity_service,
            "INSERT INTO sso_configurations (tenant_id, issuer, client_id, client_secret_sealed,"
            " allowed_email_domains, default_role, sso_required, enabled, authorization_endpoint,"
            " token_endpoint, jwks_uri, token_endpoint_auth_method) VALUES ($1,"
            " 'https://idp.example', 'c', 'x', '{}', 'member', true, true, 'https://idp.example/a',"
            " 'https://idp.example/t', 'https://idp.example/j', 'client_secret_basic')"
            " RETURNING tenant_id",
            agency.agency_id,
            tenant_id=agency.agency_id,
        )

        assert (await ask(identity, staff.email, agency.slug)).status_code == 202
        assert await links_for(outbox, staff.user_id) == []
        token = await link_token(identity, outbox, client_user)
        assert (await use(identity, token)).status_code == 200
