"""The rate limiter's rules at unit level (in memory with a fake clock; Redis the real one),
which client IP the per-IP limit counts behind trusted proxies, and the documented default
limits."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agencyos.gateway.clientip import client_ip, parse_networks
from agencyos.gateway.ratelimit import (
    Check,
    InMemoryRateLimiter,
    Policy,
    RateLimitStoreUnavailable,
    RedisRateLimiter,
    ResilientRateLimiter,
)
from agencyos.gateway.settings import GatewaySettings
from agencyos.testing.platform import redis_url

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


class TestDefaults:
    def test_the_default_limits_are_the_documented_ones(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        for name in os.environ:
            if name.startswith("AGENCYOS_"):
                monkeypatch.delenv(name)

        settings = GatewaySettings()

        assert settings.rate_limit_backend == "redis"
        assert settings.redis_url == "redis://127.0.0.1:6379/0"
        auth = (settings.rate_limit_auth_limit, settings.rate_limit_auth_window_seconds)
        user = (settings.rate_limit_api_user_limit, settings.rate_limit_api_user_window_seconds)
        key = (settings.rate_limit_api_key_limit, settings.rate_limit_api_key_window_seconds)
        assert (auth, user, key) == ((10, 10.0), (200, 60.0), (120, 60.0))
        assert settings.trusted_proxies == []

    def test_the_shared_redis_url_is_used_unless_the_gateway_has_its_own(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENCYOS_REDIS_URL", "redis://shared:6379/0")
        assert GatewaySettings().redis_url == "redis://shared:6379/0"

        monkeypatch.setenv("AGENCYOS_GATEWAY_REDIS_URL", "redis://own:6379/1")
        assert GatewaySettings().redis_url == "redis://own:6379/1"


# --- limiter semantics (unit level; Redis is the real one) -------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


POLICY = Policy("auth", limit=3, window_seconds=10.0)
OPEN_POLICY = Policy("api_user", limit=1, window_seconds=10.0, fail_open=True)


def ip(subject: str = "10.0.0.1", policy: Policy = POLICY) -> Check:
    return Check(policy, "ip", subject)


class TestInMemoryRateLimiter:
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def limiter(self, clock: FakeClock) -> InMemoryRateLimiter:
        return InMemoryRateLimiter(clock=clock)

    async def test_admits_up_to_the_limit_counting_down_remaining(
        self, limiter: InMemoryRateLimiter, clock: FakeClock
    ) -> None:
        verdicts = []
        for step in range(4):
            clock.now = 1000.0 + step
            verdicts.append(await limiter.hit([ip()]))

        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert [v.decisions[0].remaining for v in verdicts] == [2, 1, 0, 0]
        denied = verdicts[3].decisions[0]
        assert denied.reset_after == pytest.approx(7.0)  # the first hit (t=0) leaves at t=10
        assert denied.retry_after == 7
        assert verdicts[3].headers()["Retry-After"] == "7"

    async def test_a_slot_frees_exactly_one_window_after_the_oldest_hit(
        self, limiter: InMemoryRateLimiter, clock: FakeClock
    ) -> None:
        for _ in range(3):
            await limiter.hit([ip()])

        clock.now = 1009.999
        just_before = await limiter.hit([ip()])
        clock.now = 1010.0
        at_the_edge = await limiter.hit([ip()])

        assert not just_before.allowed
        assert just_before.decisions[0].retry_after == 1  # never 0 while denied
        assert at_the_edge.allowed

    async def test_denied_hits_do_not_extend_the_wait(
        self, limiter: InMemoryRateLimiter, clock: FakeClock
    ) -> None:
        for _ in range(3):
            await limiter.hit([ip()])
        for step in range(1, 10):
            clock.now = 1000.0 + step
            assert not (await limiter.hit([ip()])).allowed

        clock.now = 1010.0
        assert (await limiter.hit([ip()])).allowed

    async def test_a_request_is_counted_under_all_of_its_keys_or_none(
        self, limiter: InMemoryRateLimiter
    ) -> None:
        account = Check(POLICY, "account", "a@example.com")
        for n in range(3):
            await limiter.hit([ip(f"10.0.0.{n}"), account])

        denied = await limiter.hit([ip("10.0.0.50"), account])
        ip_alone = await limiter.hit([ip("10.0.0.50")])

        assert not denied.allowed
        assert denied.binding is not None
        assert denied.binding.check.scope == "account"
        assert ip_alone.decisions[0].remaining == 2  # the denied login did not use its quota

    async def test_subjects_are_counted_apart(self, limiter: InMemoryRateLimiter) -> None:
        for _ in range(3):
            await limiter.hit([ip("10.0.0.1")])

        assert not (await limiter.hit([ip("10.0.0.1")])).allowed
        assert (await limiter.hit([ip("10.0.0.2")])).allowed

    async def test_memory_is_bounded_by_max_keys(self, clock: FakeClock) -> None:
        limiter = InMemoryRateLimiter(max_keys=100, clock=clock)

        for n in range(1000):
            await limiter.hit([ip(f"10.0.{n // 256}.{n % 256}")])

        assert len(limiter) == 100


class TestRedisRateLimiter:
    @pytest.fixture
    async def limiter(self) -> AsyncIterator[RedisRateLimiter]:
        # What these tests check is the counting, not Redis's speed: fifty concurrent hits on
        # a loaded two-core run once took longer than the 0.5 s default to connect.
        limiter = RedisRateLimiter(
            redis_url(), namespace=f"rlunit-{uuid.uuid4().hex[:8]}", timeout_seconds=5.0
        )
        yield limiter
        await limiter.close()

    async def test_admits_up_to_the_limit_then_denies_until_the_window_passes(
        self, limiter: RedisRateLimiter
    ) -> None:
        policy = Policy("auth", limit=3, window_seconds=1.0)

        verdicts = [await limiter.hit([ip(policy=policy)]) for _ in range(4)]

        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert [v.decisions[0].remaining for v in verdicts] == [2, 1, 0, 0]
        denied = verdicts[3].decisions[0]
        assert 0 < denied.reset_after <= 1.0
        assert denied.retry_after == 1

        await asyncio.sleep(denied.reset_after)
        assert (await limiter.hit([ip(policy=policy)])).allowed

    async def test_a_request_is_counted_under_all_of_its_keys_or_none(
        self, limiter: RedisRateLimiter
    ) -> None:
        account = Check(POLICY, "account", "a@example.com")
        for n in range(3):
            await limiter.hit([ip(f"10.0.0.{n}"), account])

        denied = await limiter.hit([ip("10.0.0.50"), account])
        ip_alone = await limiter.hit([ip("10.0.0.50")])

        assert not denied.allowed
        assert denied.binding is not None
        assert denied.binding.check.scope == "account"
        assert ip_alone.decisions[0].remaining == 2

    async def test_concurrent_hits_never_overshoot_the_limit(
        self, limiter: RedisRateLimiter
    ) -> None:
        policy = Policy("api_user", limit=10, window_seconds=5.0)

        verdicts = await asyncio.gather(*(limiter.hit([ip(policy=policy)]) for _ in range(50)))

        assert sum(v.allowed for v in verdicts) == 10

    async def test_keys_are_namespaced_and_expire(
        self, limiter: RedisRateLimiter, redis: Redis
    ) -> None:
        await limiter.hit([ip("10.9.9.9")])

        key = f"agencyos:rl:{limiter.namespace}:auth:ip:10.9.9.9"
        assert await redis.zcard(key) == 1
        assert 0 < await redis.pttl(key) <= 11_000

    async def test_an_unreachable_redis_raises_store_unavailable(self) -> None:
        limiter = RedisRateLimiter(UNREACHABLE_REDIS)
        try:
            with pytest.raises(RateLimitStoreUnavailable):
                await limiter.hit([ip()])
        finally:
            await limiter.close()

    async def test_the_resilient_limiter_fails_open_or_falls_back_per_policy(self) -> None:
        limiter = ResilientRateLimiter(RedisRateLimiter(UNREACHABLE_REDIS), InMemoryRateLimiter())
        try:
            api = [await limiter.hit([ip(policy=OPEN_POLICY)]) for _ in range(3)]
            auth = [await limiter.hit([ip()]) for _ in range(4)]
        finally:
            await limiter.close()

        assert all(v.allowed and not v.decisions for v in api)
        assert [v.allowed for v in auth] == [True, True, True, False]


class TestClientIp:
    TRUSTED = parse_networks(["10.0.0.0/8", "127.0.0.1"])

    @pytest.mark.parametrize(
        ("peer", "forwarded_for", "expected"),
        [
            ("203.0.113.5", "198.51.100.1", "203.0.113.5"),  # untrusted peer: header ignored
            ("127.0.0.1", None, "127.0.0.1"),
            ("127.0.0.1", "198.51.100.1", "198.51.100.1"),
            ("127.0.0.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # client-prepended ignored
            ("127.0.0.1", "198.51.100.1, 10.1.2.3", "198.51.100.1"),  # past trusted hops
            ("127.0.0.1", "10.1.2.3, 10.4.5.6", "10.1.2.3"),  # all trusted: the farthest
            ("127.0.0.1", "not-an-ip", "127.0.0.1"),
            ("127.0.0.1", "198.51.100.1, junk, 10.1.2.3", "10.1.2.3"),
        ],
    )
    def test_only_hops_added_by_trusted_proxies_are_believed(
        self, peer: str, forwarded_for: str | None, expected: str
    ) -> None:
        assert client_ip(peer, forwarded_for, self.TRUSTED) == expected

    def test_with_no_trusted_proxies_the_peer_is_the_client(self) -> None:
        assert client_ip("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"
