"""Revocation of access tokens before they expire, shared through Redis.

Access tokens are stateless (RS256, verified against the JWKS), so on their own they keep
working until `exp` (+ the verifiers' leeway) whatever identity decides later. identity writes
what it revokes here, and every verifier (the gateway, each service's HTTP and gRPC edge) asks
right after verifying a token's signature. Five kinds of entries, each a plain string key:

    agencyos:rv:[<namespace>:]sid:<session id>           one session (logout, revoke, reuse)
    agencyos:rv:[<namespace>:]nbf:<tenant>:<user>         the user's tokens in one agency
    agencyos:rv:[<namespace>:]rnbf:<tenant>:<role>        every user token of a role in one agency
    agencyos:rv:[<namespace>:]akid:<api key id>           one API key
    agencyos:rv:[<namespace>:]tnbf:<tenant>               every token of one agency

The value is the revocation time in milliseconds since the epoch. A `sid` or `akid` entry
refuses every token that names it; an `nbf` ("not before") entry refuses the tokens whose
issue time is earlier than the value, so a member who is removed, suspended or demoted loses the
tokens they hold while the ones identity issues afterwards (a new role, a fresh login) work.
A `tnbf` entry is a not-before for a whole agency (users, API keys, delegated tokens): written
when what its tokens carry about the agency changes (its IP allowlist), so the tokens issued
before are refused and the ones issued afterwards carry the new value. The not-before is per
(agency, user): leaving agency A leaves the user's session in agency B
alone. Entries expire once every token they could refuse has expired (identity passes that
TTL: the longest token lifetime plus the leeway and a margin), so Redis holds nothing for long.

A check is one round trip (`MGET` of the token's keys). When Redis cannot be reached, the
caller says what to do: refuse (`fail_open=False`: the request answers 503) or admit unchecked
(`fail_open=True`), in both cases counted in `agencyos_revocation_store_errors_total`. While
degraded, revocations this process has already seen (in a check or a write) in the last
`remember_seconds` are still enforced from memory, and Redis is not asked again for
`retry_seconds`, so an outage costs one timeout, not one per request.
"""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from prometheus_client import Counter
from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from agencyos.common.auth import Principal
from agencyos.common.errors import ServiceUnavailable, Unauthenticated
from agencyos.common.logs import get_logger

log = get_logger(__name__)

KEY_PREFIX = "agencyos:rv:"

STORE_ERRORS = Counter(
    "agencyos_revocation_store_errors_total",
    "Token-revocation store operations that could not reach Redis, by what was done instead "
    "(fail_open: admitted unchecked; fail_closed: answered 503; remembered: refused from "
    "this process's memory of recent revocations; write_failed: the revoking transaction "
    "was rolled back)",
    ["service", "outcome"],
)
REFUSED = Counter(
    "agencyos_revoked_tokens_refused_total",
    "Requests refused because their (signature-valid) token had been revoked, by why",
    ["service", "reason"],
)

# The one answer for every revoked token: the caller learns nothing about why.
REVOKED_DETAIL = "the token has been revoked; sign in again"

# KEYS: the entries. ARGV[1]: the value (ms), ARGV[2]: the TTL (ms). An entry only ever moves
# forward in time and never loses TTL, so two revocations racing keep the later one.
_WRITE_LUA = """
local value = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
for i = 1, #KEYS do
  local current = tonumber(redis.call('GET', KEYS[i]) or '0')
  local left = redis.call('PTTL', KEYS[i])
  if value > current then
    redis.call('SET', KEYS[i], value, 'PX', math.max(ttl, left))
  elseif left < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return #KEYS
"""

_REDIS_ERRORS = (TimeoutError, RedisError, OSError)


def now_ms() -> int:
    return int(time.time() * 1000)


class RevocationStore:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        service: str = "",
        timeout_seconds: float = 0.5,
        retry_seconds: float = 1.0,
        remember_seconds: float = 16 * 60,
        max_remembered: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.namespace = namespace
        self.service = service
        self.retry_seconds = retry_seconds
        self.remember_seconds = remember_seconds
        self.max_remembered = max_remembered
        self.clock = clock
        self.client: Redis = Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(NoBackoff(), 0),
        )
        self._write = self.client.register_script(_WRITE_LUA)
        self._down_until = 0.0
        self._degraded = False
        # key -> (value, monotonic time until which it is remembered); least recent first.
        self._seen: collections.OrderedDict[str, tuple[int, float]] = collections.OrderedDict()

    async def close(self) -> None:
        await self.client.aclose()

    # --- keys ---------------------------------------------------------------------------------

    def _key(self, *parts: object) -> str:
        middle = f"{self.namespace}:" if self.namespace else ""
        return KEY_PREFIX + middle + ":".join(str(p) for p in parts)

    def session_key(self, session_id: str | uuid.UUID) -> str:
        return self._key("sid", session_id)

    def user_key(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> str:
        return self._key("nbf", tenant_id, user_id)

    def role_key(self, tenant_id: uuid.UUID, role: str) -> str:
        return self._key("rnbf", tenant_id, role)

    def api_key_key(self, api_key_id: uuid.UUID) -> str:
        return self._key("akid", api_key_id)

    def tenant_key(self, tenant_id: uuid.UUID) -> str:
        return self._key("tnbf", tenant_id)

    # --- writes (identity) --------------------------------------------------------------------

    async def revoke_sessions(
        self, session_ids: Iterable[str | uuid.UUID], *, ttl_seconds: int
    ) -> None:
        await self._record([self.session_key(s) for s in session_ids], ttl_seconds)

    async def revoke_user(
        self, tenant_id: uuid.UUID, user_id: uuid.UUID, *, ttl_seconds: int
    ) -> None:
        """Refuse the user's tokens in `tenant_id` issued before now."""
        await self._record([self.user_key(tenant_id, user_id)], ttl_seconds)

    async def revoke_role(self, tenant_id: uuid.UUID, role: str, *, ttl_seconds: int) -> None:
        """Refuse every user token of `role` in `tenant_id` issued before now."""
        await self._record([self.role_key(tenant_id, role)], ttl_seconds)

    async def revoke_api_key(self, api_key_id: uuid.UUID, *, ttl_seconds: int) -> None:
        await self._record([self.api_key_key(api_key_id)], ttl_seconds)

    async def revoke_tenant(self, tenant_id: uuid.UUID, *, ttl_seconds: int) -> None:
        """Refuse every token of `tenant_id` (users, API keys, delegated) issued before now."""
        await self._record([self.tenant_key(tenant_id)], ttl_seconds)

    async def _record(self, keys: Sequence[str], ttl_seconds: int) -> None:
        """Write the entries, or raise ServiceUnavailable: a revocation that cannot be recorded
        must fail the request that makes it, so its transaction rolls back rather than
        committing a revocation the verifiers never hear of."""
        if not keys:
            return
        value = now_ms()
        try:
            await self._write(keys=list(keys), args=[value, ttl_seconds * 1000])
        except _REDIS_ERRORS as exc:
            STORE_ERRORS.labels(self.service, "write_failed").inc()
            log.error("revocation could not be recorded", error=f"{type(exc).__name__}: {exc}")
            raise ServiceUnavailable(
                "the change cannot be applied right now; retry shortly"
            ) from exc
        for key in keys:
            self._remember(key, value)

    # --- checks (every verifier) --------------------------------------------------------------

    def entries_for(self, principal: Principal) -> list[tuple[str, str]]:
        """(kind, key) of every entry that could refuse the token of `principal`."""
        entries = [
            ("user", self.user_key(principal.tenant_id, principal.user_id)),
            ("tenant", self.tenant_key(principal.tenant_id)),
        ]
        if principal.api_key_id is not None:
            # A key's token is re-minted every few seconds by the gateway with the role as
            # tuned then, so a role's not-before does not apply; the key's own entry does.
            entries.append(("api_key", self.api_key_key(principal.api_key_id)))
        else:
            entries.append(("role", self.role_key(principal.tenant_id, principal.role.value)))
        if principal.session_id:
            entries.append(("session", self.session_key(principal.session_id)))
        return entries

    async def check(self, principal: Principal, *, fail_open: bool) -> None:
        """Raise Unauthenticated if the token of `principal` has been revoked; when Redis
        cannot be asked, ServiceUnavailable unless `fail_open` (see the module docstring)."""
        entries = self.entries_for(principal)
        values = await self._fetch([key for _, key in entries])
        reason = self._refusal(
            principal, [kind for kind, _ in entries], values or self._recall(entries)
        )
        if values is None:
            outcome = "remembered" if reason else "fail_open" if fail_open else "fail_closed"
            STORE_ERRORS.labels(self.service, outcome).inc()
        if reason is not None:
            REFUSED.labels(self.service, reason).inc()
            raise Unauthenticated(REVOKED_DETAIL)
        if values is None and not fail_open:
            # Not refused by what this process remembers, but Redis could not say.
            raise ServiceUnavailable("the token cannot be checked right now; retry shortly")

    def _recall(self, entries: list[tuple[str, str]]) -> list[int | None]:
        return [self._recalled(key) for _, key in entries]

    async def _fetch(self, keys: list[str]) -> list[int | None] | None:
        """The entries' values from Redis, or None when it cannot be reached."""
        if self.clock() >= self._down_until:
            try:
                raw = cast("list[Any]", await self.client.mget(keys))
            except _REDIS_ERRORS as exc:
                self._down_until = self.clock() + self.retry_seconds
                if not self._degraded:
                    self._degraded = True
                    log.warning(
                        "revocation store unreachable; checking recent revocations from memory",
                        error=f"{type(exc).__name__}: {exc}",
                    )
            else:
                if self._degraded:
                    self._degraded = False
                    log.info("revocation store reachable again")
                values = [int(v) if v is not None else None for v in raw]
                for key, value in zip(keys, values, strict=True):
                    if value is not None:
                        self._remember(key, value)
                return values
        return None

    @staticmethod
    def _refusal(principal: Principal, kinds: list[str], values: list[int | None]) -> str | None:
        """Why the token is refused, or None. A session or key entry refuses outright; a
        not-before refuses tokens issued before it (a token without an issue time, too)."""
        issued_ms = principal.issued_at_ms
        for kind, value in zip(kinds, values, strict=True):
            if value is None:
                continue
            if kind in ("session", "api_key"):
                return kind
            if issued_ms is None or issued_ms < value:
                return kind
        return None

    def _remember(self, key: str, value: int) -> None:
        previous = self._seen.get(key)
        if previous is not None:
            value = max(value, previous[0])
        self._seen[key] = (value, self.clock() + self.remember_seconds)
        self._seen.move_to_end(key)
        while len(self._seen) > self.max_remembered:
            self._seen.popitem(last=False)

    def _recalled(self, key: str) -> int | None:
        entry = self._seen.get(key)
        if entry is None:
            return None
        if entry[1] <= self.clock():
            del self._seen[key]
            return None
        return entry[0]
