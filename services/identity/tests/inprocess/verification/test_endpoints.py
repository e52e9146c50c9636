"""Email verification: signup emails a link (`identity.email_verification.requested`), the
link (GET) and the POST verify once, tokens say `email_verified` and a refresh after
verifying says true; until then inviting people and creating API keys answer 403
`email-not-verified`; the resend is rate-limited (429 + Retry-After); an invited person's
address counts as verified; the action is in the audit log."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.identity.settings import IdentitySettings
from agencyos.testing.factories import PASSWORD, AgencySession, refreshed, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows, fetch_value

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

REQUESTED = "identity.email_verification.requested"
REFUSED = "the email verification link is not valid; ask for a new one"


def claims(access_token: str) -> dict[str, Any]:
    return unverified_jwt(access_token)[1]


async def tokens_sent(outbox: Outbox, who: AgencySession) -> list[str]:
    return [
        e["data"]["token"]
        for e in await outbox(REQUESTED, who.agency_id)
        if e["data"]["user_id"] == str(who.user_id)
    ]


async def unverified(identity: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(identity, verified=False)


async def verify(identity: httpx.AsyncClient, token: str) -> httpx.Response:
    return await identity.post("/v1/auth/verify-email", json={"token": token})


async def invite(identity: httpx.AsyncClient, who: AgencySession) -> httpx.Response:
    return await identity.post(
        "/v1/invitations",
        json={"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "role": "member"},
        headers=who.headers,
    )


async def create_api_key(identity: httpx.AsyncClient, who: AgencySession) -> httpx.Response:
    return await identity.post(
        "/v1/api-keys", json={"name": "sync", "role": "member"}, headers=who.headers
    )


async def expire_resend_interval(service: ServiceInProcess, who: AgencySession) -> None:
    """Move the user's sent links back in time (rather than sleeping a minute)."""
    await fetch_rows(
        service.infra,
        service.database,
        "UPDATE email_verification_tokens SET created_at = created_at - interval '2 minutes' "
        "WHERE user_id = $1",
        who.user_id,
        owner=True,
    )


class TestSignup:
    async def test_signup_emails_a_link_and_the_token_says_unverified(
        self, identity: httpx.AsyncClient, outbox: Outbox, identity_service: ServiceInProcess
    ) -> None:
        owner = await unverified(identity)

        [event] = [
            e
            for e in await outbox(REQUESTED, owner.agency_id)
            if e["data"]["user_id"] == str(owner.user_id)
        ]
        assert event["data"]["email"] == owner.email
        assert event["data"]["token"].startswith("ev_")
        expires = datetime.fromisoformat(event["data"]["expires_at"])
        assert timedelta(hours=47) < expires - datetime.now(UTC) <= timedelta(hours=48)
        assert claims(owner.access_token)["email_verified"] is False
        # stored only as its SHA-256
        stored = await fetch_value(
            identity_service.infra,
            identity_service.database,
            "SELECT count(*) FROM email_verification_tokens WHERE token_hash = $1",
            hashlib.sha256(event["data"]["token"].encode()).hexdigest(),
            owner=True,
        )
        assert stored == 1
        holding_raw = await fetch_value(
            identity_service.infra,
            identity_service.database,
            "SELECT count(*) FROM email_verification_tokens t WHERE strpos(t::text, $1) > 0",
            event["data"]["token"],
            owner=True,
        )
        assert holding_raw == 0


class TestVerify:
    async def test_the_emailed_link_verifies_and_a_refresh_then_says_verified(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await unverified(identity)
        [token] = await tokens_sent(outbox, owner)

        response = await identity.get("/v1/auth/verify-email", params={"token": token})

        assert response.status_code == 200, response.text
        assert response.json()["email"] == owner.email
        assert response.json()["email_verified"] is True
        # the token in hand still says false until refreshed
        assert claims(owner.access_token)["email_verified"] is False
        after = await refreshed(identity, owner)
        assert claims(after.access_token)["email_verified"] is True
        login = await identity.post(
            "/v1/auth/login", json={"email": owner.email, "password": PASSWORD}
        )
        assert claims(login.json()["access_token"])["email_verified"] is True

    async def test_a_token_works_once(self, identity: httpx.AsyncClient, outbox: Outbox) -> None:
        owner = await unverified(identity)
        [token] = await tokens_sent(outbox, owner)

        assert (await verify(identity, token)).status_code == 200
        again = await verify(identity, token)

        body = assert_problem(again, 400, "bad-request")
        assert body["detail"] == REFUSED

    @pytest.mark.parametrize(
        "token", ["ev_not-a-real-token", "x", "ev_" + "A" * 43], ids=["made-up", "short", "shaped"]
    )
    async def test_an_unknown_token_is_refused_with_one_answer(
        self, identity: httpx.AsyncClient, token: str
    ) -> None:
        assert_problem(await verify(identity, token), 400, "bad-request")
        response = await identity.get("/v1/auth/verify-email", params={"token": token})
        assert assert_problem(response, 400, "bad-request")["detail"] == REFUSED

    async def test_an_expired_token_is_refused(
        self, identity: httpx.AsyncClient, outbox: Outbox, identity_service: ServiceInProcess
    ) -> None:
        owner = await unverified(identity)
        [token] = await tokens_sent(outbox, owner)
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "UPDATE email_verification_tokens SET expires_at = now() - interval '1 second' "
            "WHERE user_id = $1",
            owner.user_id,
            owner=True,
        )

        assert assert_problem(await verify(identity, token), 400, "bad-request")["detail"] == (
            REFUSED
        )

    async def test_verifying_is_recorded_in_the_audit_log(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await unverified(identity)
        [token] = await tokens_sent(outbox, owner)

        assert (await verify(identity, token)).status_code == 200

        records = [
            e["data"]
            for e in await outbox("audit.recorded", owner.agency_id)
            if e["data"]["action"] == "auth.email_verified"
        ]
        assert len(records) == 1
        assert records[0]["entity_id"] == str(owner.user_id)
        assert records[0]["actor_type"] == "user"
        assert records[0]["changes"]["email_verified"] == {"before": False, "after": True}
        assert token not in str(records[0])


class TestUntilVerified:
    async def test_inviting_people_is_refused_then_allowed_after_verifying(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await unverified(identity)

        refused = await invite(identity, owner)

        body = assert_problem(refused, 403, "email-not-verified")
        assert "verify your email address before you invite people" in body["detail"]
        [token] = await tokens_sent(outbox, owner)
        assert (await verify(identity, token)).status_code == 200
        assert (await invite(identity, await refreshed(identity, owner))).status_code == 201

    async def test_creating_api_keys_is_refused_then_allowed_after_verifying(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await unverified(identity)

        refused = await create_api_key(identity, owner)

        body = assert_problem(refused, 403, "email-not-verified")
        assert "before you create API keys" in body["detail"]
        [token] = await tokens_sent(outbox, owner)
        assert (await verify(identity, token)).status_code == 200
        after = await refreshed(identity, owner)
        assert (await create_api_key(identity, after)).status_code == 201

    async def test_an_invited_person_is_verified_by_accepting(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "admin")

        assert claims(member.access_token)["email_verified"] is True
        assert (await invite(identity, member)).status_code == 201


class TestResend:
    async def test_a_resend_sends_a_new_link_and_the_old_one_stops(
        self, identity: httpx.AsyncClient, outbox: Outbox, identity_service: ServiceInProcess
    ) -> None:
        owner = await unverified(identity)
        await expire_resend_interval(identity_service, owner)

        response = await identity.post("/v1/auth/verify-email/resend", headers=owner.headers)

        assert response.status_code == 202, response.text
        first, second = await tokens_sent(outbox, owner)
        assert_problem(await verify(identity, first), 400, "bad-request")
        assert (await verify(identity, second)).status_code == 200

    async def test_a_second_resend_within_the_interval_is_429_with_retry_after(
        self, identity: httpx.AsyncClient, outbox: Outbox, identity_service: ServiceInProcess
    ) -> None:
        owner = await unverified(identity)
        settings = identity_service.settings
        assert isinstance(settings, IdentitySettings)

        # the signup's link was sent a moment ago
        response = await identity.post("/v1/auth/verify-email/resend", headers=owner.headers)

        assert_problem(response, 429, "rate-limited")
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= settings.email_verification_resend_interval_seconds
        assert len(await tokens_sent(outbox, owner)) == 1

    async def test_a_verified_user_gets_409(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)

        response = await identity.post("/v1/auth/verify-email/resend", headers=owner.headers)

        assert_problem(response, 409, "conflict")

    async def test_the_resend_needs_a_token(self, identity: httpx.AsyncClient) -> None:
        response = await identity.post("/v1/auth/verify-email/resend")

        assert_problem(response, 401, "unauthenticated")
