"""The digest worker (`python -m agencyos.notification worker`, and in `all`): every
`digest_poll_seconds` one tick of `DigestService`, in one instance at a time however many
replicas run (agencyos.common.leadership). The lock only saves work: were two leaders ever to
overlap, each digest is still claimed once (see `service`)."""

from __future__ import annotations

from typing import cast

from agencyos.common.db import Database
from agencyos.common.leadership import LeaderLock, LeadingWorker
from agencyos.common.web import ServiceContext
from agencyos.notification.digests.service import DigestService
from agencyos.notification.settings import NotificationSettings


class DigestWorker(LeadingWorker):
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
        super().__init__(
            LeaderLock(database_url, key=lock_key, name="notification-digests"),
            self.service.tick,
            interval_seconds=poll_seconds,
            name="digest worker",
        )


def digest_worker(ctx: ServiceContext) -> DigestWorker:
    settings = cast(NotificationSettings, ctx.settings)
    return DigestWorker(
        ctx.database(),
        settings.leader_database_url,
        hour=settings.digest_hour,
        poll_seconds=settings.digest_poll_seconds,
        lock_key=settings.digest_lock_key,
    )
