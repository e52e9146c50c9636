"""Feed retention (worker `feed-retention`): every `feed_retention_interval_seconds`, one
instance however many replicas run (agencyos.common.leadership) deletes each agency's feed
events older than `feed_retention_days`, under that agency's tenant, a batch per transaction.
A cursor from before what is kept then answers 410 (`store.CursorExpired`).

Two leaders overlapping would only delete the same rows twice: harmless."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import cast

from prometheus_client import Counter
from sqlalchemy import text

from agencyos.common.db import Database
from agencyos.common.leadership import LeaderLock, LeadingWorker
from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext
from agencyos.notification.feed import store
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)

# Only a transaction that sets this flag sees every agency's feed head (read only; see the
# event_feed migration, which names the same setting).
FEED_RETENTION_SETTING = "app.notification_feed_retention"
PRUNE_BATCH = 5000

FEED_PRUNED = Counter("agencyos_feed_events_pruned_total", "Feed events deleted by retention")


class FeedRetention(LeadingWorker):
    def __init__(
        self,
        db: Database,
        database_url: str,
        *,
        retention_days: int,
        interval_seconds: float,
        lock_key: int,
        batch: int = PRUNE_BATCH,
    ) -> None:
        self.db = db
        self.retention = timedelta(days=retention_days)
        self.batch = batch
        super().__init__(
            LeaderLock(database_url, key=lock_key, name="notification-feed-retention"),
            self.prune,
            interval_seconds=interval_seconds,
            name="feed retention",
        )

    async def agencies(self) -> list[uuid.UUID]:
        async with self.db.transaction(None, settings={FEED_RETENTION_SETTING: "on"}) as session:
            rows = await session.execute(text("SELECT tenant_id FROM feed_heads ORDER BY 1"))
            return [row.tenant_id for row in rows]

    async def prune(self, now: datetime) -> int:
        """Delete every agency's events recorded before `now` minus the retention; answers
        how many. One agency failing does not stop the others (it is retried next time)."""
        cutoff = now - self.retention
        total = 0
        for tenant_id in await self.agencies():
            try:
                total += await self.prune_agency(tenant_id, cutoff)
            except Exception:
                log.exception("feed retention failed for an agency", tenant_id=str(tenant_id))
        if total:
            log.info("feed retention pruned", events=total, cutoff=cutoff.isoformat())
        return total

    async def prune_agency(self, tenant_id: uuid.UUID, cutoff: datetime) -> int:
        pruned = 0
        while not self._stopping.is_set():
            async with self.db.transaction(tenant_id) as session:
                deleted = await store.prune(session, cutoff, batch=self.batch)
            pruned += deleted
            FEED_PRUNED.inc(deleted)
            if deleted < self.batch:
                break
        return pruned


def feed_retention(ctx: ServiceContext) -> FeedRetention:
    settings = cast(NotificationSettings, ctx.settings)
    return FeedRetention(
        ctx.database(),
        settings.leader_database_url,
        retention_days=settings.feed_retention_days,
        interval_seconds=settings.feed_retention_interval_seconds,
        lock_key=settings.feed_retention_lock_key,
    )
