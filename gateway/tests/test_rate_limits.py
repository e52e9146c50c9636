"""Rate limits and CORS, proven on real gateway processes against real Redis. (The limiter's
rules at unit level, client IPs and the default limits: test_rate_limiter.py.)

Each test starts its own gateway(s) (`python -m agencyos.gateway`) with strict, short limits
and its own Redis key namespace, in front of the session platform's services. Waits follow
the `Retry-After` the gateway answered, never a fixed sleep.
"""

from __future__ import annotations

import asyncio
import json
import math
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.http import assert_problem
from agencyos.testing.infra import free_port
from agencyos.testing.platform import REPO_ROOT, Platform, redis_url

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
RATE_LIMIT_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset")


# --- gateway processes -------------------------------------------------------------------------


@dataclass
class GatewayProcess:
    url: str
    metrics_url: str
    namespace: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


@dataclass
class Gateways:
    """Starts gateways with the platform's upstreams and JWKS plus overrides; stops them all."""

    platform: Platform
    log_dir: Path
    started: list[GatewayProcess] = field(default_factory=list)

    async def start(self, namespace: str | None = None, **settings: Any) -> GatewayProcess:
        port, metrics_port = free_port(), free_port()
        namespace = namespace or f"rltest-{uuid.uuid4().hex[:8]}"
        env = self.platform.environment()
        env["AGENCYOS_GATEWAY_HTTP_PORT"] = str(port)
        env["AGENCYOS_GATEWAY_METRICS_PORT"] = str(metrics_port)
        env["AGENCYOS_GATEWAY_RATE_LIMIT_NAMESPACE"] = namespace
        env["AGENCYOS_REDIS_URL"] = redis_url()
        # The platform's gateway believes the tests' X-Forwarded-For (127.0.0.1 is its trusted
        # proxy); these gateways believe nobody's unless a test says so.
        env["AGENCYOS_GATEWAY_TRUSTED_PROXIES"] = "[]"
        for name, value in settings.items():
            rendered = json.dumps(value) if isinstance(value, list) else str(value)
            env[f"AGENCYOS_GATEWAY_{name.upper()}"] = rendered
        log_path = self.log_dir / f"gateway-{port}.log"
        popen = subprocess.Popen(
            [sys.executable, "-m", "agencyos.gateway"],
            env=env,
            cwd=REPO_ROOT,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        process = GatewayProcess(
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{metrics_port}",
            namespace,
            popen,
            log_path,
        )
        self.started.append(process)
        await self._wait_healthy(process)
        return process

    async def _wait_healthy(self, process: GatewayProcess, timeout: float = 30.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        async with httpx.AsyncClient(timeout=1.0) as client:
            while asyncio.get_running_loop().time() < deadline:
                if process.popen.poll() is not None:
                    raise RuntimeError(f"gateway exited:\n{process.log_tail()}")
                try:
                    if (await client.get(f"{process.url}/healthz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"gateway not healthy in {timeout}s:\n{process.log_tail()}")

    def stop(self) -> None:
        for process in self.started:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        for process in self.started:
            try:
                process.popen.wait(10)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


@pytest.fixture
def gateways(platform: Platform) -> Iterator[Gateways]:
    running = Gateways(platform, platform.log_dir)
    yield running
    running.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30.0) as http:
        yield http


# Long enough that a slow machine cannot let the window slide mid-test; only the recovery test
# waits for a window to pass, and it uses a short one.
STRICT_WINDOW = 30.0


def strict_auth(limit: int = 3, window: float = STRICT_WINDOW) -> dict[str, Any]:
    return {"rate_limit_auth_limit": limit, "rate_limit_auth_window_seconds": window}


def strict_api(limit: int = 3, window: float = STRICT_WINDOW) -> dict[str, Any]:
    return {
        "rate_limit_api_user_limit": limit,
        "rate_limit_api_user_window_seconds": window,
        "rate_limit_api_key_limit": limit,
        "rate_limit_api_key_window_seconds": window,
    }


def new_email() -> str:
    return f"nobody-{uuid.uuid4().hex[:10]}@example.com"


async def login(
    client: httpx.AsyncClient,
    gateway: GatewayProcess,
    email: str | None = None,
    forwarded_for: str | None = None,
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post(
        f"{gateway.url}/v1/auth/login",
        json={"email": email or new_email(), "password": "wrong password"},
        headers=headers,
    )


def assert_rate_limited(response: httpx.Response, policy: str, scope: str | None = None) -> int:
    """A 429 problem naming `policy` (and `scope`); returns its Retry-After."""
    body = assert_problem(response, 429, "rate-limited")
    assert body["policy"] == policy, body
    if scope is not None:
        assert body["scope"] == scope, body
    assert policy in body["detail"]
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= math.ceil(body["window_seconds"])
    assert response.headers["ratelimit-limit"] == str(body["limit"])
    assert response.headers["ratelimit-remaining"] == "0"
    assert 1 <= int(response.headers["ratelimit-reset"]) <= math.ceil(body["window_seconds"])
    return retry_after


def assert_admitted(response: httpx.Response) -> None:
    assert response.status_code != 429, response.text


async def metric(client: httpx.AsyncClient, base_url: str, name: str, **labels: str) -> float:
    """The sum of the samples of counter `name` matching `labels` on `base_url`/metrics."""
    text = (await client.get(f"{base_url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


# --- auth endpoints ----------------------------------------------------------------------------


class TestAuthLimitPerIp:
    async def test_the_eleventh_login_from_one_ip_is_429_and_it_recovers_after_retry_after(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(**strict_auth(limit=10, window=10.0))  # the defaults

        admitted = [await login(client, gateway) for _ in range(10)]
        eleventh = await login(client, gateway)

        for response in admitted:
            assert response.status_code == 401, response.text  # identity judged it
            assert response.headers["ratelimit-limit"] == "10"
        assert [r.headers["ratelimit-remaining"] for r in admitted] == [
            str(n) for n in range(9, -1, -1)
        ]
        retry_after = assert_rate_limited(eleventh, "auth", "ip")
        assert (
            await metric(
                client, gateway.metrics_url, "agencyos_gateway_rate_limited_total", policy="auth"
            )
            == 1
        )

        await asyncio.sleep(retry_after)
        recovered = await login(client, gateway)

        assert recovered.status_code == 401, recovered.text

    async def test_a_denied_login_never_reaches_identity(
        self, gateways: Gateways, client: httpx.AsyncClient, platform: Platform
    ) -> None:
        gateway = await gateways.start(**strict_auth(limit=1))
        requests = "agencyos_http_requests_total"
        labels = {"service": "identity", "method": "POST", "route": "/v1/auth/login"}
        identity = platform.url("identity")
        await login(client, gateway)
        before = await metric(client, identity, requests, **labels)

        denied = await login(client, gateway)

        assert_rate_limited(denied, "auth")
        assert await metric(client, identity, requests, **labels) == before

    async def test_refresh_and_signup_count_against_the_same_ip_limit(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(**strict_auth(limit=2))

        await client.post(f"{gateway.url}/v1/auth/refresh", json={"refresh_token": "x"})
        await client.post(f"{gateway.url}/v1/auth/signup", json={"email": new_email()})
        third = await login(client, gateway)

        assert_rate_limited(third, "auth", "ip")

    async def test_spoofed_forwarded_for_from_an_untrusted_peer_does_not_change_the_ip(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(**strict_auth())

        for n in range(3):
            assert_admitted(await login(client, gateway, forwarded_for=f"203.0.113.{n}"))
        fourth = await login(client, gateway, forwarded_for="203.0.113.99")

        assert_rate_limited(fourth, "auth", "ip")


class TestAuthLimitPerAccount:
    async def test_one_account_is_limited_across_spoofed_forwarded_for_values(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(**strict_auth())
        email = new_email()

        for n in range(3):
            assert_admitted(await login(client, gateway, email, forwarded_for=f"198.51.100.{n}"))
        fourth = await login(client, gateway, email.upper(), forwarded_for="198.51.100.200")

        assert_rate_limited(fourth, "auth")

    async def test_behind_a_trusted_proxy_the_ip_limit_follows_the_forwarded_ip(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(trusted_proxies=["127.0.0.1/32"], **strict_auth())

        for _ in range(3):
            assert_admitted(await login(client, gateway, forwarded_for="192.0.2.10"))
        same_ip = await login(client, gateway, forwarded_for="192.0.2.10")
        other_ip = await login(client, gateway, forwarded_for="192.0.2.11")
        # Only the hop the trusted proxy appended is believed, not what the client prepended.
        prepended = await login(client, gateway, forwarded_for="192.0.2.77, 192.0.2.10")

        assert_rate_limited(same_ip, "auth", "ip")
        assert_admitted(other_ip)
        assert_rate_limited(prepended, "auth", "ip")

    async def test_behind_a_trusted_proxy_the_account_limit_still_holds(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(trusted_proxies=["127.0.0.1/32"], **strict_auth())
        email = new_email()

        for n in range(3):
            assert_admitted(await login(client, gateway, email, forwarded_for=f"192.0.2.{n}"))
        fourth = await login(client, gateway, email, forwarded_for="192.0.2.100")
        other_account = await login(client, gateway, forwarded_for="192.0.2.101")

        assert_rate_limited(fourth, "auth", "account")
        assert_admitted(other_account)


# --- API traffic -------------------------------------------------------------------------------


@pytest.fixture
async def shared_gateway(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30.0) as http:
        yield http


@pytest.fixture
async def alice(shared_gateway: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(shared_gateway)


@pytest.fixture
async def bob(shared_gateway: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(shared_gateway)


async def list_clients(
    client: httpx.AsyncClient, gateway: GatewayProcess, agency: AgencySession
) -> httpx.Response:
    return await client.get(f"{gateway.url}/v1/clients", headers=agency.headers)


class TestApiUserLimit:
    async def test_a_user_past_the_limit_gets_429_and_another_user_is_unaffected(
        self,
        gateways: Gateways,
        client: httpx.AsyncClient,
        alice: AgencySession,
        bob: AgencySession,
    ) -> None:
        gateway = await gateways.start(**strict_api(limit=3))

        admitted = [await list_clients(client, gateway, alice) for _ in range(3)]
        denied = await list_clients(client, gateway, alice)
        other_user = await list_clients(client, gateway, bob)

        assert [r.status_code for r in admitted] == [200, 200, 200]
        assert [r.headers["ratelimit-remaining"] for r in admitted] == ["2", "1", "0"]
        assert all(r.headers["ratelimit-limit"] == "3" for r in admitted)
        assert_rate_limited(denied, "api_user", "user")
        assert other_user.status_code == 200
        assert other_user.headers["ratelimit-remaining"] == "2"

    async def test_two_gateway_replicas_share_one_limit_through_redis(
        self, gateways: Gateways, client: httpx.AsyncClient, alice: AgencySession
    ) -> None:
        namespace = f"rltest-{uuid.uuid4().hex[:8]}"
        first = await gateways.start(namespace, **strict_api(limit=4))
        second = await gateways.start(namespace, **strict_api(limit=4))

        statuses = [
            (await list_clients(client, gateway, alice)).status_code
            for gateway in (first, second, first, second)
        ]
        fifth_on_first = await list_clients(client, first, alice)
        fifth_on_second = await list_clients(client, second, alice)

        assert statuses == [200, 200, 200, 200]
        assert_rate_limited(fifth_on_first, "api_user")
        assert_rate_limited(fifth_on_second, "api_user")


class TestApiKeyLimit:
    async def test_api_keys_are_limited_before_they_are_rejected(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(**strict_api(limit=3))
        key = {"Authorization": f"Bearer ak_{uuid.uuid4().hex}"}
        other_key = {"Authorization": f"Bearer ak_{uuid.uuid4().hex}"}

        rejected = [await client.get(f"{gateway.url}/v1/clients", headers=key) for _ in range(3)]
        denied = await client.get(f"{gateway.url}/v1/clients", headers=key)
        other = await client.get(f"{gateway.url}/v1/clients", headers=other_key)

        for response in rejected:
            assert_problem(response, 401, "unauthenticated")
        assert [r.headers["ratelimit-remaining"] for r in rejected] == ["2", "1", "0"]
        assert_rate_limited(denied, "api_key", "key")
        assert_problem(other, 401, "unauthenticated")


# --- backends ----------------------------------------------------------------------------------


class TestBackends:
    async def test_the_in_memory_backend_limits_within_one_process(
        self, gateways: Gateways, client: httpx.AsyncClient, redis: Redis
    ) -> None:
        gateway = await gateways.start(rate_limit_backend="memory", **strict_auth())

        for _ in range(3):
            assert_admitted(await login(client, gateway))
        fourth = await login(client, gateway)

        assert_rate_limited(fourth, "auth", "ip")
        assert await redis.keys(f"agencyos:rl:{gateway.namespace}:*") == []

    async def test_the_redis_backend_keeps_its_counters_in_redis_with_a_ttl(
        self, gateways: Gateways, client: httpx.AsyncClient, redis: Redis
    ) -> None:
        gateway = await gateways.start(**strict_auth(limit=3, window=2.0))

        assert_admitted(await login(client, gateway))

        keys = sorted(k.decode() for k in await redis.keys(f"agencyos:rl:{gateway.namespace}:*"))
        assert [k.rsplit(":", 1)[0] for k in keys] == [
            f"agencyos:rl:{gateway.namespace}:auth:account",
            f"agencyos:rl:{gateway.namespace}:auth:ip",
        ]
        assert keys[1].endswith(":auth:ip:127.0.0.1")
        for key in keys:
            assert 0 < await redis.pttl(key) <= 3000

    async def test_with_redis_unreachable_api_traffic_flows_and_auth_is_limited_in_process(
        self, gateways: Gateways, client: httpx.AsyncClient, alice: AgencySession
    ) -> None:
        gateway = await gateways.start(redis_url=UNREACHABLE_REDIS, **strict_auth(), **strict_api())

        api = [await list_clients(client, gateway, alice) for _ in range(6)]
        logins = [await login(client, gateway) for _ in range(4)]

        assert [r.status_code for r in api] == [200] * 6
        assert not set(RATE_LIMIT_HEADERS) & set(api[-1].headers)
        assert [r.status_code for r in logins[:3]] == [401, 401, 401]
        assert_rate_limited(logins[3], "auth", "ip")
        errors = "agencyos_gateway_rate_limit_store_errors_total"
        metrics_url = gateway.metrics_url
        opened = await metric(client, metrics_url, errors, policy="api_user", outcome="fail_open")
        fallen_back = await metric(client, metrics_url, errors, policy="auth", outcome="fallback")
        assert (opened, fallen_back) == (6, 4)


# --- CORS --------------------------------------------------------------------------------------


class TestCors:
    ALLOWED = "https://app.example.com"

    async def test_a_preflight_from_an_allowed_origin_gets_the_cors_headers(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(cors_origins=[self.ALLOWED])

        response = await client.options(
            f"{gateway.url}/v1/clients",
            headers={
                "Origin": self.ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )

        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == self.ALLOWED
        assert "POST" in response.headers["access-control-allow-methods"]
        assert "authorization" in response.headers["access-control-allow-headers"].lower()
        assert int(response.headers["access-control-max-age"]) > 0

    async def test_a_preflight_from_another_origin_gets_no_cors_headers(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(cors_origins=[self.ALLOWED])

        response = await client.options(
            f"{gateway.url}/v1/clients",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )

        assert_problem(response, 403)
        assert "access-control-allow-origin" not in response.headers

    async def test_a_cross_origin_answer_exposes_the_rate_limit_headers(
        self, gateways: Gateways, client: httpx.AsyncClient
    ) -> None:
        gateway = await gateways.start(cors_origins=[self.ALLOWED], **strict_auth(limit=1))
        origin = {"Origin": self.ALLOWED}

        await client.post(f"{gateway.url}/v1/auth/login", json={}, headers=origin)
        denied = await client.post(f"{gateway.url}/v1/auth/login", json={}, headers=origin)

        assert denied.status_code == 429
        assert denied.headers["access-control-allow-origin"] == self.ALLOWED
        exposed = denied.headers["access-control-expose-headers"].lower()
        assert {"retry-after", *RATE_LIMIT_HEADERS} <= set(exposed.split(", "))
