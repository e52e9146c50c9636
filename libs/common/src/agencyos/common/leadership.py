"""One active instance of a periodic job however many replicas run (billing's scheduler,
notification's digests).

Leading is a PostgreSQL session-level advisory lock (`pg_try_advisory_lock(key)`) held on a
dedicated connection outside the pool, in autocommit (never idle in a transaction). The lock
lives exactly as long as that connection: a leader that stops releases it, one that crashes or
loses the connection loses it as soon as the server notices, and a standby takes over on its
next try. The leader checks its connection before every tick and gives up leading when it is
gone. The lock only saves work: a job must stay correct if two leaders ever overlap (say the
old one has not noticed yet), by claiming what it does in the transaction that does it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agencyos.common.logs import get_logger

log = get_logger(__name__)

# A lock connection that does not answer this fast is treated as gone.
CHECK_TIMEOUT_SECONDS = 5.0

Tick = Callable[[datetime], Awaitable[object]]


class LeaderLock:
    """The advisory lock `key` on a connection of its own to `database_url`."""

    def __init__(self, database_url: str, *, key: int, name: str) -> None:
        self.key = key
        self.name = name
        self._engine: AsyncEngine = create_async_engine(
            database_url,
            poolclass=pool.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": f"agencyos-{name}"}},
        )
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def acquire(self) -> bool:
        """Whether this instance holds the lock now (taking it if it is free)."""
        if self._conn is not None:
            try:
                await asyncio.wait_for(self._conn.execute(text("SELECT 1")), CHECK_TIMEOUT_SECONDS)
                return True
            except Exception:
                log.warning("lost the leader lock's connection; no longer leading", job=self.name)
                await self._drop()
        conn = await self._engine.connect()
        try:
            taken = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            ).scalar_one()
        except BaseException:
            await conn.close()
            raise
        if not taken:
            await conn.close()
            return False
        self._conn = conn
        log.info("leading", job=self.name, lock_key=self.key)
        return True

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await asyncio.wait_for(
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key}),
                CHECK_TIMEOUT_SECONDS,
            )
        except Exception:
            log.warning("could not release the leader lock; closing its connection frees it")
        await self._drop()

    async def close(self) -> None:
        await self.release()
        await self._engine.dispose()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), CHECK_TIMEOUT_SECONDS)
        except Exception:
            # the server frees the lock when it sees the connection gone
            await asyncio.wait_for(conn.invalidate(), CHECK_TIMEOUT_SECONDS)


class LeadingWorker:
    """Runs `tick(now)` every `interval_seconds` while this instance holds the lock; tries to
    take it every interval otherwise. A failing tick is logged and the next one runs."""

    def __init__(self, lock: LeaderLock, tick: Tick, *, interval_seconds: float, name: str) -> None:
        self.lock = lock
        self.tick = tick
        self.interval_seconds = interval_seconds
        self.name = name
        self._stopping = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self.lock.held

    async def lead(self) -> bool:
        return await self.lock.acquire()

    async def resign(self) -> None:
        await self.lock.release()

    def stop(self) -> None:
        self._stopping.set()

    async def close(self) -> None:
        """Give up leading and close the lock's engine."""
        await self.lock.close()

    async def run(self) -> None:
        log.info(f"{self.name} started", interval_seconds=self.interval_seconds)
        try:
            while not self._stopping.is_set():
                try:
                    if await self.lead():
                        await self.tick(datetime.now(UTC))
                except Exception:
                    log.exception(f"{self.name} tick failed")
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.interval_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.close()
            log.info(f"{self.name} stopped")
