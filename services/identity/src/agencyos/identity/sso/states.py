"""Sign-ins in flight: what `start` must hand to `callback` (the agency, the nonce, the PKCE
verifier), kept server-side in Redis under the hash of the `state` sent to the provider.

A state is taken with GETDEL, so it works once whatever happens next (a callback that fails
still burns it), and expires after `sso_state_ttl_seconds`. Redis rather than a table: the
callback knows no tenant until the state names it, and a state must be burnt even when the
callback's transaction rolls back.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass

from redis.asyncio import Redis

KEY_PREFIX = "agencyos:sso:"


@dataclass(frozen=True)
class PendingSignIn:
    agency_id: uuid.UUID
    nonce: str
    code_verifier: str
    issuer: str


class SignInStates:
    def __init__(self, redis: Redis, namespace: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = KEY_PREFIX + (f"{namespace}:" if namespace else "")
        self.ttl_seconds = ttl_seconds

    def _key(self, state: str) -> str:
        return self.prefix + hashlib.sha256(state.encode()).hexdigest()

    async def begin(self, pending: PendingSignIn) -> str:
        """A new state for `pending`, stored until it is taken or expires."""
        state = secrets.token_urlsafe(32)
        value = json.dumps(
            {
                "agency_id": str(pending.agency_id),
                "nonce": pending.nonce,
                "code_verifier": pending.code_verifier,
                "issuer": pending.issuer,
            }
        )
        await self.redis.set(self._key(state), value, ex=self.ttl_seconds)
        return state

    async def take(self, state: str) -> PendingSignIn | None:
        """The sign-in `state` began, once; None when unknown, expired or already taken."""
        if not state or len(state) > 128:
            return None
        raw = await self.redis.getdel(self._key(state))
        if raw is None:
            return None
        data = json.loads(raw)
        return PendingSignIn(
            agency_id=uuid.UUID(data["agency_id"]),
            nonce=data["nonce"],
            code_verifier=data["code_verifier"],
            issuer=data["issuer"],
        )
