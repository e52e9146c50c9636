"""Password hashing with argon2id.

The cost defaults to argon2-cffi's (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4
lanes) and is configurable (`AGENCYOS_IDENTITY_PASSWORD_HASH_*`); a stored hash carries its
own parameters, so hashes made under another cost still verify. Hashing and verifying run in
a worker thread (argon2 releases the GIL): a hash takes tens to hundreds of milliseconds of
CPU, which would otherwise stall every other request on the event loop. The threads are a pool
of `password_hash_workers` (not the default executor, which sizes itself from the node's CPUs,
not the container's): each hash holds its memory cost, so the pool bounds the memory a burst of
logins takes; further hashes wait their turn.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from agencyos.identity.settings import IdentitySettings

_DUMMY_PASSWORD = "agencyos-timing-equaliser"

T = TypeVar("T")


@functools.cache
def _pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")


async def run_hashing(settings: IdentitySettings, work: Callable[[], T]) -> T:
    """Run `work` on the bounded hashing pool (at most `password_hash_workers` at once)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool(settings.password_hash_workers), work)


@functools.cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> tuple[PasswordHasher, str]:
    """The hasher for one cost, with a hash of a throwaway password under that same cost:
    it is verified when the email is unknown, so a miss costs as much as a wrong password."""
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    return hasher, hasher.hash(_DUMMY_PASSWORD)


def _for(settings: IdentitySettings) -> tuple[PasswordHasher, str]:
    return _hasher(
        settings.password_hash_time_cost,
        settings.password_hash_memory_kib,
        settings.password_hash_parallelism,
    )


async def hash_password(settings: IdentitySettings, password: str) -> str:
    def hash_it() -> str:
        hasher, _ = _for(settings)
        return hasher.hash(password)

    return await run_hashing(settings, hash_it)


async def verify_password(
    settings: IdentitySettings, password_hash: str | None, password: str
) -> bool:
    """False for a wrong password, a malformed hash, or no hash (an unknown email), after the
    same work in each case."""

    def verify() -> bool:
        hasher, dummy = _for(settings)
        try:
            return hasher.verify(password_hash or dummy, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await run_hashing(settings, verify)
