"""Sign-in lockout per account, kept by identity itself so it holds however a request arrives
(through the gateway, whose limits are per IP and per account, or straight at identity).

Per email (normalised, hashed; known or not, so a lock tells nothing about whether the
account exists), Redis holds a hash `agencyos:login:[<namespace>:]<sha256(email)>` with the
count of consecutive failed attempts and the time until which the account is locked. Every
attempt is counted as a failure when it starts (atomically, in one script), and a correct
password clears the count: so parallel guesses cannot slip past the threshold together.
After `threshold` failures the account is locked for `base` seconds, doubling with each further
failure (`base * 2^(failures - threshold)`) up to `max`; during a lock every attempt, with the
right password or not, is refused with 429 and `Retry-After`, and is not counted. The count
is forgotten `forget` seconds after the last failure. Time is Redis's clock, shared by replicas.

Why Redis and not a table: the count must survive the login transaction's rollback (a failed
login raises), be atomic across replicas without row locks on a hot path, and expire on its
own; identity already depends on Redis for token revocation.

When Redis cannot be reached the lockout fails OPEN (counted in
`agencyos_identity_login_lockout_store_errors_total`, logged once per outage): sign-in does not
depend on Redis, and the gateway's per-IP and per-account limits still apply (they fall back
to per-replica counting when Redis is down).
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from prometheus_client import Counter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from agencyos.common.errors import TooManyRequests
from agencyos.common.logs import get_logger
from agencyos.identity.settings import IdentitySettings

log = get_logger(__name__)

KEY_PREFIX = "agencyos:login:"

STORE_ERRORS = Counter(
    "agencyos_identity_login_lockout_store_errors_total",
    "Sign-in attempts admitted without the per-account lockout because Redis was unreachable",
)
LOCKED_OUT = Counter(
    "agencyos_identity_login_locked_out_total",
    "Sign-in attempts refused (429) because the account was locked after failed attempts",
)

# KEYS[1]: the account's hash. ARGV: threshold, base ms, max ms, forget ms.
# Returns the ms the account stays locked (0: the attempt may go ahead, counted as a failure).
_BEGIN_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local threshold = tonumber(ARGV[1])
local base = tonumber(ARGV[2])
local max = tonumber(ARGV[3])
local forget = tonumber(ARGV[4])
local locked = tonumber(redis.call('HGET', KEYS[1], 'locked_until') or '0')
if locked > now then
  return locked - now
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local lock = 0
if failures >= threshold then
  lock = math.min(max, base * 2 ^ math.min(failures - threshold, 40))
  redis.call('HSET', KEYS[1], 'locked_until', now + lock)
end
redis.call('PEXPIRE', KEYS[1], math.max(forget, lock))
return 0
"""

_REDIS_ERRORS = (TimeoutError, RedisError, OSError)


class LoginLockout:
    """`client` is shared (identity's revocation store's connection pool) and closed by its
    owner."""

    def __init__(self, client: Redis, settings: IdentitySettings) -> None:
        self.enabled = settings.login_lockout_threshold > 0
        self.namespace = settings.login_lockout_namespace
        self.args = [
            settings.login_lockout_threshold,
            math.ceil(settings.login_lockout_base_seconds * 1000),
            math.ceil(settings.login_lockout_max_seconds * 1000),
            math.ceil(settings.login_lockout_forget_seconds * 1000),
        ]
        self.client = client
        self._begin = self.client.register_script(_BEGIN_LUA)
        self._degraded = False

    def _key(self, email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        middle = f"{self.namespace}:" if self.namespace else ""
        return f"{KEY_PREFIX}{middle}{digest}"

    async def begin(self, email: str) -> None:
        """Count an attempt for `email` (as failed until `succeeded`), or raise TooManyRequests
        while the account is locked."""
        if not self.enabled:
            return
        try:
            locked_ms = int(cast("Any", await self._begin(keys=[self._key(email)], args=self.args)))
        except _REDIS_ERRORS as exc:
            STORE_ERRORS.inc()
            if not self._degraded:
                self._degraded = True
                log.warning("login lockout store unreachable; failing open", error=str(exc))
            return
        self._degraded = False
        if locked_ms > 0:
            LOCKED_OUT.inc()
            retry_after = max(1, math.ceil(locked_ms / 1000))
            raise TooManyRequests(
                "too many failed sign-in attempts for this account; try again after the "
                "time in Retry-After",
                headers={"Retry-After": str(retry_after)},
            )

    async def succeeded(self, email: str) -> None:
        """The password was right: the account's count starts again from zero."""
        if not self.enabled:
            return
        try:
            await self.client.delete(self._key(email))
        except _REDIS_ERRORS as exc:
            STORE_ERRORS.inc()
            log.warning("login lockout could not be reset", error=str(exc))


def login_lockout(request: Request) -> LoginLockout:
    """The app's lockout (app.py makes it on identity's shared Redis connection pool)."""
    lockout: LoginLockout = request.app.state.login_lockout
    return lockout


Lockout = Annotated[LoginLockout, Depends(login_lockout)]
