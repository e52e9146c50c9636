"""The digest worker (`python -m agencyos.notification worker`, and in `all`): every
`digest_poll_seconds` one tick of `DigestService`, in one instance at a time however many
replicas run.

Leading is a PostgreSQL session advisory lock (`pg_try_advisory_lock`) held on a connection
of its own, outside the pool and in autocommit: it lasts exactly as long as that connection,
so a leader that stops frees it and one that dies loses it when the server notices; a
standby tries again every poll. The lock only saves work: were two leaders ever to overlap,
each digest is still claimed once (see `service`)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext
from agencyos.notification.digests.service import DigestService
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)

APPLICATION_NAME = "agencyos-notification-digests"
# A lock connection that does not answer within this is taken as lost.
CHECK_TIMEOUT_SECONDS = 5.0


class DigestWorker:
    def __init__(
        self,
        db: Database,
        database_url: str,
        *,
        hour: int,
        poll_seconds: float,
        lock_key: int,
    ) -> None:
        self.service = DigestService(db, hour=hour)
        self.poll_seconds = poll_seconds
        self.lock_key = lock_key
        self._engine = create_async_engine(
            database_url,
            poolclass=pool.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": APPLICATION_NAME}},
        )
        self._lock: AsyncConnection | None = None
        self._stopping = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._lock is not None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        log.info("digest worker started", poll_seconds=self.poll_seconds)
        try:
            while not self._stopping.is_set():
                try:
                    if await self.lead():
                        await self.service.tick(datetime.now(UTC))
                except Exception:
                    log.exception("digest tick failed")
                try:
                    await asyncio.wait_for(self._stopping.wait(), timeout=self.poll_seconds)
                except TimeoutError:
                    pass
        finally:
            await self.close()
            log.info("digest worker stopped")

    async def close(self) -> None:
        """Give up leading and close the lock's engine."""
        await self.resign()
        await self._engine.dispose()

    async def lead(self) -> bool:
        """Whether this instance leads now (taking the lock when it is free)."""
        if self._lock is not None:
            try:
                await asyncio.wait_for(self._lock.execute(text("SELECT 1")), CHECK_TIMEOUT_SECONDS)
                return True
            except Exception:
                log.warning("digest worker lost its lock connection; no longer leading")
                await self._drop()
        conn = await self._engine.connect()
        try:
            taken = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.lock_key}
                )
            ).scalar_one()
        except BaseException:
            await conn.close()
            raise
        if not taken:
            await conn.close()
            return False
        self._lock = conn
        log.info("digest worker leading", lock_key=self.lock_key)
        return True

    async def resign(self) -> None:
        if self._lock is None:
            return
        try:
            await asyncio.wait_for(
                self._lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.lock_key}),
                CHECK_TIMEOUT_SECONDS,
            )
        except Exception:
            log.warning("digest worker could not unlock; closing its connection frees the lock")
        await self._drop()

    async def _drop(self) -> None:
        conn, self._lock = self._lock, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), CHECK_TIMEOUT_SECONDS)
        except Exception:
            await asyncio.wait_for(conn.invalidate(), CHECK_TIMEOUT_SECONDS)


def digest_worker(ctx: ServiceContext) -> DigestWorker:
    settings = cast(NotificationSettings, ctx.settings)
    return DigestWorker(
        ctx.database(),
        settings.database_url,
        hour=settings.digest_hour,
        poll_seconds=settings.digest_poll_seconds,
        lock_key=settings.digest_lock_key,
    )
