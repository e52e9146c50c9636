"""Signing-key rotation: `python -m agencyos.identity rotate-signing-key` run as an operator
would, against the running platform. The JWKS serves old and new keys until every token the
old one signed has expired."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx

from agencyos.testing.factories import signup_agency
from agencyos.testing.http import unverified_jwt
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.sql import fetch_rows


async def rotate(platform: Platform) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agencyos.identity", "rotate-signing-key"],
        env=platform.environment(),
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


async def published_kids(identity: httpx.AsyncClient) -> set[str]:
    response = await identity.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    return {key["kid"] for key in response.json()["keys"]}


def kid(access_token: str) -> str:
    return str(unverified_jwt(access_token)[0]["kid"])


async def accepted(client: httpx.AsyncClient, access_token: str, within: float = 15.0) -> bool:
    """Whether `client` accepts the token on /v1/me within `within` seconds. Verifiers
    refetch the JWKS for an unknown kid at most every few seconds, so a token signed by a
    brand-new key may need a moment; a token whose key is published must get through."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})
        if response.status_code == 200:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.5)


async def backdate_keys(platform: Platform, interval: str) -> None:
    """Make every signing key (and so every supersession) `interval` older."""
    await fetch_rows(
        platform.infra,
        platform.database("identity"),
        f"UPDATE signing_keys SET created_at = created_at - interval '{interval}'",
        owner=True,
    )


class TestRotation:
    async def test_after_rotation_the_jwks_serves_both_keys_and_new_tokens_use_the_new_one(
        self, platform: Platform, identity: httpx.AsyncClient, gateway: httpx.AsyncClient
    ) -> None:
        before = await signup_agency(gateway)
        old_kid = kid(before.access_token)

        await rotate(platform)

        after = await signup_agency(gateway)
        new_kid = kid(after.access_token)
        assert new_kid != old_kid
        assert {old_kid, new_kid} <= await published_kids(identity)
        assert await accepted(gateway, after.access_token)
        assert await accepted(identity, after.access_token)
        # A token signed before the rotation keeps working at the gateway.
        me = await gateway.get("/v1/me", headers=before.headers)
        assert me.status_code == 200, me.text

    async def test_a_refresh_after_rotation_is_signed_with_the_new_key(
        self, platform: Platform, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        await rotate(platform)

        response = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": owner.refresh_token}
        )
        assert response.status_code == 200, response.text
        assert kid(response.json()["access_token"]) != kid(owner.access_token)
        assert kid(response.json()["access_token"]) in await published_kids(identity)


class TestRetirement:
    async def test_a_key_superseded_longer_than_a_token_lives_leaves_the_jwks(
        self, platform: Platform, identity: httpx.AsyncClient, gateway: httpx.AsyncClient
    ) -> None:
        oldest = kid((await signup_agency(identity)).access_token)
        await rotate(platform)
        middle = kid((await signup_agency(identity)).access_token)
        # `oldest` was superseded by `middle` a day ago: all its tokens have expired.
        await backdate_keys(platform, "1 day")

        await rotate(platform)

        newest_owner = await signup_agency(gateway)
        newest = kid(newest_owner.access_token)
        kids = await published_kids(identity)
        assert oldest not in kids
        assert {middle, newest} <= kids
        assert await accepted(gateway, newest_owner.access_token)
        assert await accepted(identity, newest_owner.access_token)

    async def test_an_old_key_that_was_signing_until_now_stays_published(
        self, platform: Platform, identity: httpx.AsyncClient, gateway: httpx.AsyncClient
    ) -> None:
        before = await signup_agency(identity)
        # The key is a day old, but it signed `before` a moment ago.
        await backdate_keys(platform, "1 day")

        await rotate(platform)

        assert kid(before.access_token) in await published_kids(identity)
        assert await accepted(gateway, before.access_token)
        fresh = await signup_agency(gateway)
        assert await accepted(gateway, fresh.access_token)
        assert await accepted(identity, fresh.access_token)


async def test_an_unknown_command_is_refused(platform: Platform) -> None:
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "agencyos.identity", "rotate-everything"],
        env=platform.environment(),
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=120,
    )

    assert result.returncode == 2
    assert b"invalid choice" in result.stderr
