"""Password reset through the real gateway: the request that always answers 202, the
`identity.password_reset.requested` event carrying the token, and the confirm that sets the
password once and ends every session of the user in every agency."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx

from agencyos.identity.passwords import hash_password
from agencyos.identity.settings import IdentitySettings
from agencyos.testing.factories import (
    PASSWORD,
    AgencySession,
    add_membership,
    signup_agency,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value

NEW_PASSWORD = "a brand new passphrase"
GENERIC_DETAIL = "the password reset token is not valid; request a new one"
REQUESTED = "identity.password_reset.requested"


def sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def request_reset(gateway: httpx.AsyncClient, email: str) -> httpx.Response:
    return await gateway.post("/v1/auth/password-reset", json={"email": email})


async def confirm(
    gateway: httpx.AsyncClient, token: str, new_password: str = NEW_PASSWORD
) -> httpx.Response:
    return await gateway.post(
        "/v1/auth/password-reset/confirm", json={"token": token, "new_password": new_password}
    )


async def login(
    gateway: httpx.AsyncClient, email: str, password: str, slug: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if slug:
        body["agency_slug"] = slug
    return await gateway.post("/v1/auth/login", json=body)


async def reset_events(
    platform: Platform, user_id: uuid.UUID, count: int = 1
) -> list[dict[str, Any]]:
    """The user's reset events on identity's topic, once `count` of them have arrived."""
    topic = f"{platform.topic_prefix}identity.events"

    def mine(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e for e in events_where(records, type=REQUESTED) if e["data"]["user_id"] == str(user_id)
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap, topic, lambda rs: len(mine(rs)) >= count
    )
    return mine(records)


async def reset_token(gateway: httpx.AsyncClient, platform: Platform, who: AgencySession) -> str:
    response = await request_reset(gateway, who.email)
    assert response.status_code == 202, response.text
    events = await reset_events(platform, who.user_id)
    token: str = events[-1]["data"]["token"]
    return token


async def outbox_resets_for(platform: Platform, email: str) -> int:
    """Reset events for `email` in identity's outbox, whatever their tenant (relay's view)."""
    count: int = await fetch_value(
        platform.infra,
        platform.database("identity"),
        "SELECT count(*) FROM outbox WHERE event_type = $1 AND envelope->'data'->>'email' = $2",
        REQUESTED,
        email,
        owner=True,
        relay=True,
    )
    return count


def assert_token_refused(response: httpx.Response) -> None:
    body = assert_problem(response, 400, "bad-request")
    assert body["detail"] == GENERIC_DETAIL


class TestRequest:
    async def test_an_unknown_email_gets_the_same_202_and_no_event(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.com"

        known = await request_reset(gateway, agency.email)
        missing = await request_reset(gateway, unknown)

        assert known.status_code == missing.status_code == 202
        assert known.json() == missing.json()
        assert known.headers["content-type"] == missing.headers["content-type"]
        await reset_events(platform, agency.user_id)  # the known one's event got out...
        assert await outbox_resets_for(platform, unknown) == 0  # ...the unknown one has none

    async def test_a_known_email_publishes_the_event_with_a_token_for_the_user(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await request_reset(gateway, agency.email.upper())

        assert response.status_code == 202, response.text
        (event,) = await reset_events(platform, agency.user_id)
        assert event["tenantid"] == str(agency.agency_id)
        assert event["source"] == "/agencyos/identity"
        data = event["data"]
        assert set(data) == {"user_id", "email", "name", "token", "expires_at"}
        assert data["email"] == agency.email
        assert data["token"].startswith("pr_")
        assert len(data["token"]) == 3 + 43

    async def test_the_token_is_stored_only_hashed_and_expires_in_30_minutes(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(gateway, platform, agency)

        rows = await fetch_rows(
            platform.infra,
            platform.database("identity"),
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
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        email = f"orphan-{uuid.uuid4().hex[:10]}@example.com"
        await fetch_rows(
            platform.infra,
            platform.database("identity"),
            "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, 'Orphan', $3)",
            uuid.uuid4(),
            email,
            await hash_password(IdentitySettings(), PASSWORD),
            owner=True,
        )

        response = await request_reset(gateway, email)

        assert response.status_code == 202, response.text
        assert await outbox_resets_for(platform, email) == 0

    async def test_a_bad_email_is_a_422(self, gateway: httpx.AsyncClient) -> None:
        assert_invalid_fields(await request_reset(gateway, "not-an-email"), "email")


class TestConfirm:
    async def test_the_token_sets_the_new_password_and_ends_every_session_in_every_agency(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        home = await signup_agency(gateway)
        second = await signup_agency(gateway)
        await add_membership(platform, second, home.user_id, "member")
        there = await login(gateway, home.email, PASSWORD, second.slug)
        assert there.status_code == 200, there.text
        old_refresh_tokens = [home.refresh_token, there.json()["refresh_token"]]
        token = await reset_token(gateway, platform, home)

        confirmed = await confirm(gateway, token)

        assert confirmed.status_code == 204, confirmed.text
        assert_problem(await login(gateway, home.email, PASSWORD), 401)
        assert (await login(gateway, home.email, NEW_PASSWORD)).status_code == 200
        for refresh_token in old_refresh_tokens:
            refused = await gateway.post("/v1/auth/refresh", json={"refresh_token": refresh_token})
            assert_problem(refused, 401)

    async def test_other_users_sessions_are_left_alone(
        self, platform: Platform, gateway: httpx.AsyncClient, other_agency: AgencySession
    ) -> None:
        owner = await signup_agency(gateway)
        token = await reset_token(gateway, platform, owner)

        assert (await confirm(gateway, token)).status_code == 204

        kept = await gateway.post(
            "/v1/auth/refresh", json={"refresh_token": other_agency.refresh_token}
        )
        assert kept.status_code == 200, kept.text

    async def test_a_used_token_is_refused_the_second_time(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(gateway, platform, agency)
        assert (await confirm(gateway, token)).status_code == 204

        assert_token_refused(await confirm(gateway, token, "yet another passphrase"))
        assert (await login(gateway, agency.email, NEW_PASSWORD)).status_code == 200

    async def test_an_expired_token_is_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(gateway, platform, agency)
        await fetch_rows(
            platform.infra,
            platform.database("identity"),
            "UPDATE password_reset_tokens SET expires_at = now() - interval '1 second' "
            "WHERE token_hash = $1",
            sha256(token),
            owner=True,
        )

        assert_token_refused(await confirm(gateway, token))
        assert (await login(gateway, agency.email, PASSWORD)).status_code == 200

    async def test_a_second_request_makes_the_first_token_stop_working(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await reset_token(gateway, platform, agency)
        assert (await request_reset(gateway, agency.email)).status_code == 202
        events = await reset_events(platform, agency.user_id, count=2)
        second = events[-1]["data"]["token"]
        assert second != first

        assert_token_refused(await confirm(gateway, first))
        assert (await confirm(gateway, second)).status_code == 204

    async def test_every_bad_token_gets_the_same_problem(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        used = await reset_token(gateway, platform, agency)
        assert (await confirm(gateway, used)).status_code == 204
        guesses = [used, "pr_" + "A" * 43, "garbage", agency.refresh_token]

        answers = [await confirm(gateway, guess) for guess in guesses]

        for answer in answers:
            assert_token_refused(answer)
        bodies = [{k: v for k, v in a.json().items() if k != "trace_id"} for a in answers]
        assert all(body == bodies[0] for body in bodies)

    async def test_a_too_short_new_password_is_a_422_and_the_token_stays_usable(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(gateway, platform, agency)

        assert_invalid_fields(await confirm(gateway, token, "short"), "new_password")
        assert (await confirm(gateway, token)).status_code == 204

    async def test_two_simultaneous_confirms_let_exactly_one_through(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        token = await reset_token(gateway, platform, agency)

        answers = await asyncio.gather(
            confirm(gateway, token, "first racing passphrase"),
            confirm(gateway, token, "second racing passphrase"),
        )

        assert sorted(a.status_code for a in answers) == [204, 400], [a.text for a in answers]
        winner = "first" if answers[0].status_code == 204 else "second"
        logged_in = await login(gateway, agency.email, f"{winner} racing passphrase")
        assert logged_in.status_code == 200, logged_in.text
