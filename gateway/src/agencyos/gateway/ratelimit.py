"""Rate limits: a sliding-window log per (policy, subject), shared through Redis or kept in
process.

Algorithm. Each subject (a client IP, an account, a user, an API key) has a log of the times of
its admitted requests. A request is admitted when fewer than `limit` entries are younger than
`window`; then its own time is appended. Denied requests are not logged, so a client that keeps
hammering is admitted again as soon as its oldest admitted request leaves the window. This is
exact ("10 per any 10 s"), unlike fixed windows which admit 2x at a window edge, and costs at
most `limit` entries per subject — the limits here are small.

`RedisRateLimiter` keeps each log in a sorted set `agencyos:rl:[<namespace>:]<policy>:<subject>`
(score = microseconds) and runs the whole check — for every key a request is limited by — in
one Lua script (`EVALSHA`), so replicas never race, and a request is logged under all of its
keys or none (a login denied per account does not eat the IP's quota). Time is Redis's own
clock (`TIME`), so replicas with skewed clocks agree. Each key expires one window after its
last admitted request, so Redis holds nothing for idle subjects.

`InMemoryRateLimiter` is the same algorithm in one process: the fallback for a single replica
(`AGENCYOS_GATEWAY_RATE_LIMIT_BACKEND=memory`) and the safety net below. It keeps at most
`max_keys` subjects (least recently used evicted first), so memory is bounded.

When Redis is configured but unreachable, `ResilientRateLimiter` decides per policy: the auth
endpoints (unauthenticated, the brute-force surface) keep being limited by the in-process
fallback — per replica, so N replicas admit at most N x the limit, still bounded — while API
traffic (already authenticated; the limit is about fairness) fails OPEN, so a cache outage is
not a platform outage. Both outcomes are logged (once per outage) and counted in
`agencyos_gateway_rate_limit_store_errors_total{policy,outcome}`.
"""

from __future__ import annotations

import abc
import collections
import hashlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from agencyos.common.errors import TooManyRequests
from agencyos.common.logs import get_logger
from agencyos.gateway.settings import GatewaySettings

log = get_logger(__name__)

KEY_PREFIX = "agencyos:rl:"

RATE_LIMITED = Counter(
    "agencyos_gateway_rate_limited_total",
    "Requests the gateway answered 429 because a rate limit was exhausted",
    ["policy"],
)
STORE_ERRORS = Counter(
    "agencyos_gateway_rate_limit_store_errors_total",
    "Rate-limit checks that could not reach the shared store, by what was done instead "
    "(fail_open: admitted unchecked; fallback: checked in process)",
    ["policy", "outcome"],
)


@dataclass(frozen=True)
class Policy:
    """A quota: at most `limit` requests per `window_seconds` for each subject."""

    name: str
    limit: int
    window_seconds: float
    # What to do when the shared store is unreachable: admit (True) or use the local fallback.
    fail_open: bool = False


@dataclass(frozen=True)
class Check:
    """One key a request counts against: a policy, a scope ("ip", "account", ...), a subject."""

    policy: Policy
    scope: str
    subject: str

    def key(self, namespace: str) -> str:
        middle = f"{namespace}:" if namespace else ""
        return f"{KEY_PREFIX}{middle}{self.policy.name}:{self.scope}:{self.subject}"


@dataclass(frozen=True)
class Decision:
    check: Check
    allowed: bool
    remaining: int
    # Seconds until the oldest logged request leaves the window (a slot frees up); 0 if none.
    reset_after: float

    @property
    def limit(self) -> int:
        return self.check.policy.limit

    @property
    def retry_after(self) -> int:
        """Whole seconds to wait before retrying (≥ 1 when denied, 0 when allowed)."""
        return max(1, math.ceil(self.reset_after)) if not self.allowed else 0

    @property
    def reset_seconds(self) -> int:
        return math.ceil(self.reset_after)


@dataclass(frozen=True)
class Verdict:
    """The decisions for all of a request's checks; admitted only if every one allowed it."""

    decisions: tuple[Decision, ...]

    @property
    def allowed(self) -> bool:
        return all(d.allowed for d in self.decisions)

    @property
    def binding(self) -> Decision | None:
        """The decision the answer reports: the denial that lasts longest, else the tightest."""
        if not self.decisions:
            return None
        denied = [d for d in self.decisions if not d.allowed]
        if denied:
            return max(denied, key=lambda d: d.reset_after)
        return min(self.decisions, key=lambda d: (d.remaining, -d.reset_after))

    def headers(self) -> dict[str, str]:
        decision = self.binding
        if decision is None:
            return {}
        headers = {
            "RateLimit-Limit": str(decision.limit),
            "RateLimit-Remaining": str(decision.remaining),
            "RateLimit-Reset": str(decision.reset_seconds),
        }
        if not decision.allowed:
            headers["Retry-After"] = str(decision.retry_after)
        return headers


class RateLimitStoreUnavailable(Exception):
    """The shared store could not answer; the caller decides whether to fail open."""


class RateLimiter(abc.ABC):
    @abc.abstractmethod
    async def hit(self, checks: Sequence[Check]) -> Verdict:
        """Count one request against every check, atomically: logged under all or none."""

    async def close(self) -> None:
        return None


class InMemoryRateLimiter(RateLimiter):
    def __init__(
        self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._logs: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._logs)

    def _log(self, key: str, now: float, window: float) -> collections.deque[float]:
        entries = self._logs.get(key)
        if entries is None:
            entries = collections.deque()
            self._logs[key] = entries
            while len(self._logs) > self.max_keys:
                self._logs.popitem(last=False)
        else:
            self._logs.move_to_end(key)
        while entries and entries[0] <= now - window:
            entries.popleft()
        return entries

    async def hit(self, checks: Sequence[Check]) -> Verdict:
        # No await inside: one event loop step, so this is atomic within the process.
        now = self.clock()
        logs = [self._log(c.key(""), now, c.policy.window_seconds) for c in checks]
        pairs = list(zip(checks, logs, strict=True))
        admitted = all(len(entries) < c.policy.limit for c, entries in pairs)
        decisions = []
        for check, entries in pairs:
            allowed = len(entries) < check.policy.limit
            if admitted:
                entries.append(now)
            oldest = entries[0] if entries else None
            reset = oldest + check.policy.window_seconds - now if oldest is not None else 0.0
            remaining = max(0, check.policy.limit - len(entries))
            decisions.append(Decision(check, allowed, remaining, max(0.0, reset)))
        return Verdict(tuple(decisions))


# KEYS: one sorted set per check. ARGV: a unique member id, then (limit, window µs) per key.
# Returns, per key: allowed (1/0), remaining, µs until the oldest entry leaves the window.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local counts = {}
local admitted = true
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  counts[i] = redis.call('ZCARD', KEYS[i])
  if counts[i] >= limit then admitted = false end
end
local out = {}
for i = 1, n do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1])
  local allowed = 0
  if counts[i] < limit then allowed = 1 end
  local count = counts[i]
  if admitted then
    redis.call('ZADD', KEYS[i], now, now .. ':' .. ARGV[1])
    redis.call('PEXPIRE', KEYS[i], math.ceil(window / 1000) + 1000)
    count = count + 1
  end
  local reset = 0
  local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  local remaining = limit - count
  if remaining < 0 then remaining = 0 end
  out[#out + 1] = allowed
  out[#out + 1] = remaining
  out[#out + 1] = reset
end
return out
"""


class RedisRateLimiter(RateLimiter):
    """Shared across replicas. After a failure Redis is not asked again for `retry_seconds`,
    so an outage costs one timeout, not one per request."""

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        timeout_seconds: float = 0.5,
        retry_seconds: float = 2.0,
    ) -> None:
        self.namespace = namespace
        self.retry_seconds = retry_seconds
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self.client.register_script(_SLIDING_WINDOW_LUA)
        self._down_until = 0.0

    async def close(self) -> None:
        await self.client.aclose()

    async def ping(self) -> None:
        await self.client.ping()

    async def hit(self, checks: Sequence[Check]) -> Verdict:
        if not checks:
            return Verdict(())
        if time.monotonic() < self._down_until:
            raise RateLimitStoreUnavailable("redis was unreachable moments ago")
        args: list[str | int] = [uuid.uuid4().hex]
        for check in checks:
            args += [check.policy.limit, math.ceil(check.policy.window_seconds * 1_000_000)]
        try:
            raw = cast(
                "list[Any]",
                await self._script(keys=[c.key(self.namespace) for c in checks], args=args),
            )
        except (TimeoutError, RedisError, OSError) as exc:
            self._down_until = time.monotonic() + self.retry_seconds
            raise RateLimitStoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        decisions = tuple(
            Decision(
                check,
                allowed=int(raw[3 * i]) == 1,
                remaining=int(raw[3 * i + 1]),
                reset_after=max(0, int(raw[3 * i + 2])) / 1_000_000,
            )
            for i, check in enumerate(checks)
        )
        return Verdict(decisions)


class ResilientRateLimiter(RateLimiter):
    """The shared limiter, with a per-policy answer for when it cannot be reached (see the
    module docstring): fail open, or fall back to the in-process limiter."""

    def __init__(self, primary: RateLimiter, fallback: InMemoryRateLimiter) -> None:
        self.primary = primary
        self.fallback = fallback
        self._degraded = False

    async def close(self) -> None:
        await self.primary.close()
        await self.fallback.close()

    async def hit(self, checks: Sequence[Check]) -> Verdict:
        try:
            verdict = await self.primary.hit(checks)
        except RateLimitStoreUnavailable as exc:
            if not self._degraded:
                self._degraded = True
                log.warning(
                    "rate-limit store unreachable: API limits fail open, auth limits are "
                    "enforced per replica",
                    error=str(exc),
                )
            enforced = [c for c in checks if not c.policy.fail_open]
            for policy in {c.policy.name: c.policy for c in checks}.values():
                outcome = "fail_open" if policy.fail_open else "fallback"
                STORE_ERRORS.labels(policy.name, outcome).inc()
            return await self.fallback.hit(enforced)
        if self._degraded:
            self._degraded = False
            log.info("rate-limit store reachable again")
        return verdict


# --- the gateway's policies --------------------------------------------------------------------

_AUTH_PREFIXES = ("/v1/auth/", "/v1/invitations/")


def is_auth_route(path: str) -> bool:
    """A public route (routes.PUBLIC) that takes credentials or mints sessions: limited by
    the `auth` policy. Callers check `is_public` first."""
    return path.startswith(_AUTH_PREFIXES)


# The client portal's sign-in forms: asking for a link (it emails someone) and spending one.
_PORTAL_SIGN_IN = re.compile(r"^/portal/[^/]+/sign-in(/link)?$")


def is_portal_sign_in(method: str, path: str) -> bool:
    """A POST of the portal's sign-in forms: limited by the `auth` policy like `/v1/auth/*`
    (the pages themselves, GETs, are not)."""
    return method == "POST" and _PORTAL_SIGN_IN.match(path) is not None


def account_of(path: str, body: bytes) -> str | None:
    """The account a public auth request is about: its JSON `email` (a form field on the
    portal's sign-in page), lower-cased. Refresh is keyed by an opaque token, not an account,
    so it is limited per IP only."""
    if path == "/v1/auth/refresh":
        return None
    if path.startswith("/portal/"):
        try:
            fields = parse_qs(body.decode("utf-8"), max_num_fields=20)
        except (UnicodeDecodeError, ValueError):
            return None
        emails = fields.get("email") or [""]
        return emails[0].strip().lower() or None
    try:
        data = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        return None
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str) or not email.strip():
        return None
    return email.strip().lower()


def _digest(value: str) -> str:
    # Keys never hold an email or an API key in clear, and stay short.
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class GatewayLimits:
    """The gateway's three policies over one limiter; raises `TooManyRequests` on a denial."""

    def __init__(
        self,
        limiter: RateLimiter | None,
        *,
        auth: Policy,
        api_user: Policy,
        api_key: Policy,
    ) -> None:
        self.limiter = limiter
        self.auth = auth
        self.api_user = api_user
        self.api_key = api_key

    async def close(self) -> None:
        if self.limiter is not None:
            await self.limiter.close()

    def auth_checks(self, ip: str, account: str | None) -> list[Check]:
        checks = [Check(self.auth, "ip", ip)]
        if account is not None:
            checks.append(Check(self.auth, "account", _digest(account)))
        return checks

    def user_checks(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> list[Check]:
        return [Check(self.api_user, "user", f"{tenant_id}:{user_id}")]

    def key_checks(self, api_key: str) -> list[Check]:
        return [Check(self.api_key, "key", _digest(api_key))]

    async def enforce(self, checks: Sequence[Check]) -> dict[str, str]:
        """Count the request; the `RateLimit-*` headers for the answer, or 429."""
        if self.limiter is None or not checks:
            return {}
        verdict = await self.limiter.hit(checks)
        headers = verdict.headers()
        decision = verdict.binding
        if verdict.allowed or decision is None:
            return headers
        policy = decision.check.policy
        RATE_LIMITED.labels(policy.name).inc()
        raise TooManyRequests(
            f"rate limit '{policy.name}' per {decision.check.scope} exceeded: "
            f"{policy.limit} requests per {policy.window_seconds:g} s; "
            f"retry in {decision.retry_after} s",
            headers=headers,
            extra={
                "policy": policy.name,
                "scope": decision.check.scope,
                "limit": policy.limit,
                "window_seconds": policy.window_seconds,
                "retry_after": decision.retry_after,
            },
        )


def build_limits(settings: GatewaySettings) -> GatewayLimits:
    auth = Policy("auth", settings.rate_limit_auth_limit, settings.rate_limit_auth_window_seconds)
    api_user = Policy(
        "api_user",
        settings.rate_limit_api_user_limit,
        settings.rate_limit_api_user_window_seconds,
        fail_open=True,
    )
    api_key = Policy(
        "api_key",
        settings.rate_limit_api_key_limit,
        settings.rate_limit_api_key_window_seconds,
        fail_open=True,
    )
    limiter: RateLimiter | None = None
    if settings.rate_limit_enabled:
        memory = InMemoryRateLimiter(max_keys=settings.rate_limit_memory_max_keys)
        if settings.rate_limit_backend == "redis":
            redis_limiter = RedisRateLimiter(
                settings.redis_url,
                namespace=settings.rate_limit_namespace,
                timeout_seconds=settings.rate_limit_redis_timeout_seconds,
                retry_seconds=settings.rate_limit_redis_retry_seconds,
            )
            limiter = ResilientRateLimiter(redis_limiter, memory)
        else:
            limiter = memory
    return GatewayLimits(limiter, auth=auth, api_user=api_user, api_key=api_key)
