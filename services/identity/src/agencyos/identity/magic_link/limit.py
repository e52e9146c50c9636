"""How many magic links one email address may ask for: at most `magic_link_email_limit` per
`magic_link_email_window_seconds` (a fixed window in Redis, keyed by the address's SHA-256,
known or not). Past the limit no email is sent and the answer stays the same 202: the limit
protects the mailbox from being flooded and tells the asker nothing.

Redis unreachable: the limit fails OPEN (logged), like the sign-in lockout; the gateway's
per-IP limit on `/v1/auth/*` still applies.
"""

from __future__ import annotations

import hashlib
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from agencyos.common.logs import get_logger
from agencyos.identity.settings import IdentitySettings

log = get_logger(__name__)

KEY_PREFIX = "agencyos:magic-link:"

# KEYS[1]: the address's counter. ARGV[1]: the window in seconds. Returns the count so far.
_COUNT_LUA = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
end
return n
"""

_REDIS_ERRORS = (TimeoutError, RedisError, OSError)


class MagicLinkLimit:
    """`client` is shared (identity's revocation store's pool) and closed by its owner."""

    def __init__(self, client: Redis, settings: IdentitySettings) -> None:
        self.limit = settings.magic_link_email_limit
        self.window = settings.magic_link_email_window_seconds
        # The sign-in lockout's namespace (tests give each run its own).
        self.namespace = settings.login_lockout_namespace
        self.client = client
        self._count = client.register_script(_COUNT_LUA)

    def _key(self, email: str) -> str:
        digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        middle = f"{self.namespace}:" if self.namespace else ""
        return f"{KEY_PREFIX}{middle}{digest}"

    async def allow(self, email: str) -> bool:
        """Count a request for `email`; whether it is within the limit."""
        if self.limit <= 0:
            return True
        try:
            count = int(cast("Any", await self._count(keys=[self._key(email)], args=[self.window])))
        except _REDIS_ERRORS as exc:
            log.warning("magic link limit store unreachable; failing open", error=str(exc))
            return True
        return count <= self.limit
