"""identity's own sign-in lockout (no gateway and its limits in between): after 5 failed
attempts for one email, attempts are refused with 429 and Retry-After whatever the password,
for a window that doubles (the in-process tier's first window is 2 s); the right password
works again once it has passed; a success resets the count; an unknown email locks the same
way."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem, without_trace

THRESHOLD = 5
FIRST_WINDOW_SECONDS = 2


async def login(identity: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await identity.post("/v1/auth/login", json={"email": email, "password": password})


async def fail(identity: httpx.AsyncClient, email: str, times: int) -> None:
    for _ in range(times):
        response = await login(identity, email, "not the password")
        assert_problem(response, 401, "unauthenticated")


def assert_locked(response: httpx.Response) -> int:
    """A 429 problem with a Retry-After within the lock's window; returns it."""
    assert_problem(response, 429, "rate-limited")
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "access_token" not in response.text
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


async def works_within(identity: httpx.AsyncClient, who: AgencySession, seconds: float) -> float:
    """Poll with the right password until it is let in; how long that took."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while True:
        response = await login(identity, who.email, PASSWORD)
        if response.status_code == 200:
            return loop.time() - started
        assert_locked(response)
        assert loop.time() - started < seconds, "still locked out"
        await asyncio.sleep(0.2)


class TestLockout:
    async def test_after_five_failures_even_the_right_password_is_429_until_the_window_passes(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        await fail(identity, owner.email, THRESHOLD)

        locked = await login(identity, owner.email, "not the password")
        right_password = await login(identity, owner.email, PASSWORD)

        assert assert_locked(locked) <= FIRST_WINDOW_SECONDS
        assert assert_locked(right_password) <= FIRST_WINDOW_SECONDS
        waited = await works_within(identity, owner, FIRST_WINDOW_SECONDS + 5)
        assert waited > 0

    async def test_the_window_doubles_with_each_failure_after_the_lock(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        await fail(identity, owner.email, THRESHOLD)
        # Wait out the first window (2 s) without succeeding...
        loop = asyncio.get_running_loop()
        deadline = loop.time() + FIRST_WINDOW_SECONDS + 5
        while (
            response := await login(identity, owner.email, "not the password")
        ).status_code == 429:
            assert loop.time() < deadline, "the first window never ended"
            await asyncio.sleep(0.2)
        # ...that failure (the sixth) locks for twice as long.
        assert_problem(response, 401, "unauthenticated")

        locked = await login(identity, owner.email, PASSWORD)

        assert assert_locked(locked) > FIRST_WINDOW_SECONDS

    async def test_a_success_resets_the_count(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)
        await fail(identity, owner.email, THRESHOLD - 1)
        assert (await login(identity, owner.email, PASSWORD)).status_code == 200

        await fail(identity, owner.email, THRESHOLD - 1)

        assert (await login(identity, owner.email, PASSWORD)).status_code == 200
        # Counted from the last success: 5 in a row now lock.
        await fail(identity, owner.email, THRESHOLD)
        assert_locked(await login(identity, owner.email, PASSWORD))

    async def test_an_unknown_email_locks_exactly_like_a_known_one(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        nobody = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
        await fail(identity, owner.email, THRESHOLD)
        await fail(identity, nobody, THRESHOLD)

        known = await login(identity, owner.email, "not the password")
        unknown = await login(identity, nobody, "not the password")

        assert_locked(known)
        assert_locked(unknown)
        assert without_trace(known.json()) == without_trace(unknown.json())

    async def test_the_lock_is_per_account_and_ignores_the_emails_case(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        bystander = await signup_agency(identity)
        await fail(identity, owner.email, THRESHOLD)

        assert_locked(await login(identity, owner.email.upper(), PASSWORD))
        assert (await login(identity, bystander.email, PASSWORD)).status_code == 200
