"""Password reset: the request that always answers 202 and writes
`identity.password_reset.requested` (carrying the token) to the outbox only for a known user,
the confirm that sets the password once and ends every session of the user in every agency,
and the emailed link (a GET that tells whether the token still works and spends nothing)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import httpx

from agencyos.identity.passwords import hash_password
from agencyos.identity.settings import IdentitySettings
from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_invalid_fields, assert_problem, without_trace
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

NEW_PASSWORD = "a brand new passphrase"
GENERIC_DETAIL = "the password reset token is not valid; request a new one"
REQUESTED = "identity.password_reset.requested"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(identity: httpx.AsyncClient, email: str) -> httpx.Response:
    return await identity.post("/v1/auth/password-reset", json={"email": email})


async def confirm(
    identity: httpx.AsyncClient, token: str, new_password: str = NEW_PASSWORD
) -> httpx.Response:
    return await identity.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def login(
    identity: httpx.AsyncClient, email: str, password: str, slug: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if slug:
        body["agency_slug"] = slug
    return await identity.post("/v1/auth/login", json=body)


async def reset_events(outbox: Outbox, user_id: uuid.UUID) -> list[dict[str, Any]]:
    """The user's reset events identity wrote to its outbox (whatever their tenant)."""
    return [e for e in await outbox(REQUESTED) if e["data"]["user_id"] == str(user_id)]


async def reset_token(identity: httpx.AsyncClient, outbox: Outbox, who: AgencySession) -> str:
    response = await request_reset(identity, who.email)
    assert response.status_code == 202, response.text
    events = await reset_events(outbox, who.user_id)
    token: str = events[-1]["data"]["token"]
    return token


async def outbox_resets_for(outbox: Outbox, email: str) -> int:
    """Reset events for `email` in identity's outbox, whatever their tenant (relay's view)."""
    return len([e for e in await outbox(REQUESTED) if e["data"]["email"] == email])


def assert_token_refused(response: httpx.Response) -> None:
    body = assert_problem(response, 400, "bad-request")
    assert body["detail"] == GENERIC_DETAIL


class TestRequest:
    async def test_an_unknown_email_gets_the_same_202_and_no_event(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.com"

        known = await request_reset(identity, agency.email)
        missing = await request_reset(identity, unknown)

        assert known.status_code == missing.status_code == 202
        assert known.json() == missing.json()
        assert known.headers["content-type"] == missing.headers["content-type"]
        assert len(await reset_events(outbox, agency.user_id)) == 1  # the known one has its event
        assert await outbox_resets_for(outbox, unknown) == 0  # ...the unknown one has none

    async def test_a_known_email_writes_the_event_with_a_token_for_the_user(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await request_reset(identity, agency.email.upper())

        assert response.status_code == 202, response.text
        (event,) = await reset_events(outbox, agency.user_id)
        assert event["tenantid"] == str(agency.agency_id)
        assert event["source"] == "/agencyos/identity"
        data = event["data"]
        assert set(data) == {"user_id", "email", "name", "token", "expires_at"}
        assert data["email"] == agency.email
        assert data["token"].startswith("pr_")
        assert len(data["token"]) == 3 + 43

    async def test_the_token_is_stored_only_hashed_and_expires_in_30_minutes(
        self,
        outbox: Outbox,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        token = await reset_token(identity, outbox, agency)

        rows = await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "SELECT token_hash, extract(epoch FROM expires_at - created_at) AS ttl, "
            "strpos(t::text, $2) AS raw FROM password_reset_tokens t WHERE user_id = $1",
            agency.user_id,
            token,
            owner=True,
        )

        assert len(rows) == 1
        assert rows[0]["token_hash"] == sha256(token)
        assert rows[0]["raw"] == 0
        assert abs(float(rows[0]["ttl"]) - 1800) < 5

    async def test_a_user_without_an_active_agency_gets_202_and_no_event(
        self, outbox: Outbox, identity_service: ServiceInProcess, identity: httpx.AsyncClient
    ) -> None:
        settings = identity_service.settings  # the tier's hashing cost, not production's
        assert isinstance(settings, IdentitySettings)
        email = f"orphan-{uuid.uuid4().hex[:10]}@example.com"
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Orphan', $3)",
            uuid.uuid4(),
            email,
            await hash_password(settings, PASSWORD),
            owner=True,
        )

        response = await request_reset(identity, email)

        assert response.status_code == 202, response.text
        assert await outbox_resets_for(outbox, email) == 0

    async def test_a_bad_email_is_a_422(self, identity: httpx.AsyncClient) -> None:
        assert_invalid_fields(await request_reset(identity, "not-an-email"), "email")


class TestConfirm:
    async def test_the_token_sets_the_new_password_and_ends_every_session_in_every_agency(
        self, outbox: Outbox, add_membership: AddMembership, identity: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(identity)
        second = await signup_agency(identity)
        await add_membership(second, home.user_id, "member")
        there = await login(identity, home.email, PASSWORD, second.slug)
        assert there.status_code == 200, there.text
        old_refresh_tokens = [home.refresh_token, there.json()["refresh_token"]]
        token = await reset_token(identity, outbox, home)

        confirmed = await confirm(identity, token)

        assert confirmed.status_code == 204, confirmed.text
        assert_problem(await login(identity, home.email, PASSWORD), 401)
        assert (await login(identity, home.email, NEW_PASSWORD)).status_code == 200
        for refresh_token in old_refresh_tokens:
            refused = await identity.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
            assert_problem(refused, 401)

    async def test_other_users_sessions_are_left_alone(
        self, outbox: Outbox, identity: httpx.AsyncClient, other_agency: AgencySession
    ) -> None:
        owner = await signup_agency(identity)
        token = await reset_token(identity, outbox, owner)

        assert (await confirm(identity, token)).status_code == 204

        kept = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": other_agency.refresh_token}
        )
        assert kept.status_code == 200, kept.text

    async def test_a_used_token_is_refused_the_second_time(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(identity, outbox, agency)
        assert (await confirm(identity, token)).status_code == 204

        assert_token_refused(await confirm(identity, token, "yet another passphrase"))
        assert (await login(identity, agency.email, NEW_PASSWORD)).status_code == 200

    async def test_an_expired_token_is_refused(
        self,
        outbox: Outbox,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        token = await reset_token(identity, outbox, agency)
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            sha256(token),
            owner=True,
        )

        assert_token_refused(await confirm(identity, token))
        assert (await login(identity, agency.email, PASSWORD)).status_code == 200

    async def test_a_second_request_makes_the_first_token_stop_working(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await reset_token(identity, outbox, agency)
        assert (await request_reset(identity, agency.email)).status_code == 202
        events = await reset_events(outbox, agency.user_id)
        assert len(events) == 2
        second = events[-1]["data"]["token"]
        assert second != first

        assert_token_refused(await confirm(identity, first))
        assert (await confirm(identity, second)).status_code == 204

    async def test_every_bad_token_gets_the_same_problem(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        used = await reset_token(identity, outbox, agency)
        assert (await confirm(identity, used)).status_code == 204
        guesses = [used, "pr_" + "A" * 43, "garbage", agency.refresh_token]

        answers = [await confirm(identity, guess) for guess in guesses]

        for answer in answers:
            assert_token_refused(answer)
        bodies = [{k: v for k, v in a.json().items() if k != "trace_id"} for a in answers]
        assert all(body == bodies[0] for body in bodies)

    async def test_a_too_short_new_password_is_a_422_and_the_token_stays_usable(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(identity, outbox, agency)

        assert_invalid_fields(await confirm(identity, token, "short"), "new_password")
        assert (await confirm(identity, token)).status_code == 204

    async def test_two_simultaneous_confirms_let_exactly_one_through(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(identity, outbox, agency)

        answers = await asyncio.gather(
            confirm(identity, token, "first racing passphrase"),
            confirm(identity, token, "second racing passphrase"),
        )

        assert sorted(a.status_code for a in answers) == [204, 400], [a.text for a in answers]
        winner = "first" if answers[0].status_code == 204 else "second"
        logged_in = await login(identity, agency.email, f"{winner} racing passphrase")
        assert logged_in.status_code == 200, logged_in.text


async def follow(identity: httpx.AsyncClient, token: str) -> httpx.Response:
    """The emailed link, followed: a GET without credentials."""
    return await identity.get("/v1/auth/password-reset/confirm", params={"token": token})


class TestFollowingTheLink:
    async def test_a_live_token_is_valid_until_it_expires_and_nothing_else_is_said(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(identity, outbox, agency)
        (event,) = await reset_events(outbox, agency.user_id)

        response = await follow(identity, token)

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert set(body) == {"valid", "expires_at"}
        assert body["valid"] is True
        expires_at = datetime.fromisoformat(body["expires_at"])
        assert expires_at == datetime.fromisoformat(event["data"]["expires_at"])
        assert agency.email not in response.text
        assert str(agency.user_id) not in response.text

    async def test_following_the_link_spends_nothing_and_the_token_still_sets_the_password(
        self, outbox: Outbox, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(identity, outbox, agency)

        for _ in range(2):
            assert (await follow(identity, token)).status_code == 200

        assert (await confirm(identity, token)).status_code == 204
        assert (await login(identity, agency.email, NEW_PASSWORD)).status_code == 200
        assert_token_refused(await follow(identity, token))

    async def test_a_refused_token_gets_the_same_problem_as_confirming_it(
        self,
        outbox: Outbox,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        used = await reset_token(identity, outbox, agency)
        assert (await confirm(identity, used)).status_code == 204
        superseded = await reset_token(identity, outbox, agency)
        expired = await reset_token(identity, outbox, agency)
        await fetch_rows(
            identity_service.infra,
            identity_service.database,
            "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            sha256(expired),
            owner=True,
        )

        for token in (used, superseded, expired, "pr_" + "A" * 43, "garbage"):
            followed = await follow(identity, token)
            assert_token_refused(followed)
            assert without_trace(followed.json()) == without_trace(
                (await confirm(identity, token)).json()
            )

    async def test_a_missing_empty_or_nul_token_is_a_422_naming_it(
        self, identity: httpx.AsyncClient
    ) -> None:
        missing = await identity.get("/v1/auth/password-reset/confirm")
        empty = await follow(identity, "")
        nul = await follow(identity, "pr_\x00")

        for response in (missing, empty, nul):
            assert_invalid_fields(response, "query.token")
