"""API keys at the edge: the gateway trades a key for a short-lived access token from identity
(`ResolveApiKey` over gRPC) and forwards that token instead, so a key never reaches a service.

Answers are cached by the key's SHA-256 (never the key in clear) for a few seconds, so a busy
key costs identity one call per few seconds. A revoked key stops at once all the same: the
gateway checks every request's token against the revocation store (gateway/revocation.py),
which refuses the tokens minted for a revoked key and drops the key's entry here (`forget`).
A token is never cached past its expiry (minus a margin). Refusals are cached too, briefly, so
a client retrying a bad key in a loop does not hammer identity. Concurrent requests with the
same uncached key share one call.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass

from agencyos.common.errors import AppError
from agencyos.common.peers.identity import IdentityClient


@dataclass(frozen=True)
class _Entry:
    until: float  # time.monotonic() after which the entry is stale
    access_token: str | None = None
    refusal: AppError | None = None


class ApiKeyResolver:
    def __init__(
        self,
        identity_target: str,
        *,
        cache_seconds: float,
        timeout_seconds: float,
        refusal_cache_seconds: float = 2.0,
        expiry_margin_seconds: float = 30.0,
        max_entries: int = 10_000,
    ) -> None:
        self.identity_target = identity_target
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self.refusal_cache_seconds = refusal_cache_seconds
        self.expiry_margin_seconds = expiry_margin_seconds
        self.max_entries = max_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[_Entry]] = {}

    async def access_token(self, api_key: str) -> str:
        """The access token to forward for `api_key`; raises `Unauthenticated` (401) for a
        key identity refuses, `ServiceUnavailable` (503) when identity cannot be asked."""
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        entry = self._cached(digest)
        if entry is None:
            task = self._inflight.get(digest)
            if task is None:
                task = asyncio.create_task(self._resolve(api_key, digest))
                self._inflight[digest] = task
                task.add_done_callback(lambda done: self._settled(digest, done))
            # Shielded: one caller giving up must not cancel the call the others wait on.
            entry = await asyncio.shield(task)
        if entry.refusal is not None:
            # A fresh copy per answer: the app adds rate-limit headers to the error it raises.
            refusal = entry.refusal
            raise type(refusal)(refusal.detail, headers=dict(refusal.headers))
        assert entry.access_token is not None
        return entry.access_token

    def forget(self, api_key: str) -> None:
        """Drop what is cached for `api_key`: the next request asks identity again."""
        self._cache.pop(hashlib.sha256(api_key.encode()).hexdigest(), None)

    def _cached(self, digest: str) -> _Entry | None:
        entry = self._cache.get(digest)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            del self._cache[digest]
            return None
        self._cache.move_to_end(digest)
        return entry

    def _settled(self, digest: str, task: asyncio.Task[_Entry]) -> None:
        if self._inflight.get(digest) is task:
            del self._inflight[digest]
        if not task.cancelled():
            task.exception()  # retrieved, so a failure nobody awaited is not reported as lost

    async def _resolve(self, api_key: str, digest: str) -> _Entry:
        identity = IdentityClient(self.identity_target, self.timeout_seconds)
        try:
            resolved = await identity.resolve_api_key(api_key)
        except AppError as error:
            if error.status >= 500:
                raise
            entry = _Entry(time.monotonic() + self.refusal_cache_seconds, refusal=error)
        else:
            now = time.monotonic()
            lifetime = min(
                self.cache_seconds, float(resolved.expires_in) - self.expiry_margin_seconds
            )
            entry = _Entry(now + lifetime, access_token=resolved.access_token)
        self._store(digest, entry)
        return entry

    def _store(self, digest: str, entry: _Entry) -> None:
        if entry.until <= time.monotonic():
            return
        self._cache[digest] = entry
        self._cache.move_to_end(digest)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
