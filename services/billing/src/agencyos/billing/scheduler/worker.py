"""The scheduler as a worker (`python -m agencyos.billing worker`, and in `all`): one active
instance at a time however many replicas run.

Leadership is a PostgreSQL session-level advisory lock (`pg_try_advisory_lock(key)`) held on
a dedicated connection outside the pool, in autocommit (never idle in a transaction). The
instance that holds it runs a tick every `interval`; the others try again every `interval`.
The lock lives exactly as long as that connection: a leader that stops releases it, one that
crashes or loses the connection loses it as soon as the server notices, and a standby takes
over on its next try. The leader checks its connection before every tick and gives up
leading when it is gone. Ticks are also safe if two leaders ever overlapped (say the old one
has not noticed yet): every notice is claimed in `invoice_reminders` in the transaction that
publishes it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import pool, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agencyos.billing.scheduler.service import SchedulerService
from agencyos.billing.settings import BillingSettings
from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext

log = get_logger(__name__)

APPLICATION_NAME = "agencyos-billing-scheduler"
# A lock connection that does not answer this fast is treated as gone.
CHECK_TIMEOUT_SECONDS = 5.0


class SchedulerWorker:
    def __init__(
        self, db: Database, database_url: str, *, interval_seconds: float, lock_key: int
    ) -> None:
        self.service = SchedulerService(db)
        self.interval_seconds = interval_seconds
        self.lock_key = lock_key
        self._engine: AsyncEngine = create_async_engine(
            database_url,
            poolclass=pool.NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": APPLICATION_NAME}},
        )
        self._lock_conn: AsyncConnection | None = None
        self._stopping = asyncio.Event()

    @property
    def leading(self) -> bool:
        return self._lock_conn is not None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        log.info("scheduler started", interval_seconds=self.interval_seconds)
        try:
            while not self._stopping.is_set():
                try:
                    if await self._lead():
                        await self.service.tick(datetime.now(UTC))
                except Exception:
                    log.exception("scheduler tick failed")
                await self._wait(self.interval_seconds)
        finally:
            await self._resign()
            await self._engine.dispose()
            log.info("scheduler stopped")

    async def _lead(self) -> bool:
        """Whether this instance holds the lock now (taking it if it is free)."""
        if self._lock_conn is not None:
            try:
                await asyncio.wait_for(
                    self._lock_conn.execute(text("SELECT 1")), CHECK_TIMEOUT_SECONDS
                )
                return True
            except Exception:
                log.warning("scheduler lost its lock connection; no longer leading")
                await self._drop_connection()
        conn = await self._engine.connect()
        try:
            acquired = (
                await conn.execute(
                    text("SELECT pg_try_advisory_lock(:key)"), {"key": self.lock_key}
                )
            ).scalar_one()
        except BaseException:
            await conn.close()
            raise
        if not acquired:
            await conn.close()
            return False
        self._lock_conn = conn
        log.info("scheduler leading", lock_key=self.lock_key)
        return True

    async def _resign(self) -> None:
        if self._lock_conn is None:
            return
        try:
            await asyncio.wait_for(
                self._lock_conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self.lock_key}
                ),
                CHECK_TIMEOUT_SECONDS,
            )
        except Exception:
            log.warning("scheduler could not release its lock; closing the connection frees it")
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        try:
            await asyncio.wait_for(conn.close(), CHECK_TIMEOUT_SECONDS)
        except Exception:
            # the server frees the lock when it sees the connection gone
            await asyncio.wait_for(conn.invalidate(), CHECK_TIMEOUT_SECONDS)

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


def scheduler_worker(ctx: ServiceContext) -> SchedulerWorker:
    settings = cast(BillingSettings, ctx.settings)
    return SchedulerWorker(
        ctx.database(),
        settings.database_url,
        interval_seconds=settings.scheduler_interval_seconds,
        lock_key=settings.scheduler_lock_key,
    )
