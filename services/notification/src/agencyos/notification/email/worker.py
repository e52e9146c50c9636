"""The delivery worker (`python -m agencyos.notification worker`, and in `all`): every
`email_poll_seconds` it sends what is due (see delivery.py). Any number of replicas may run:
claims are row locks and leases, so no email is sent twice by two of them."""

from __future__ import annotations

import asyncio
from typing import cast

from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext
from agencyos.notification.email.delivery import DeliveryService, RetryPolicy
from agencyos.notification.email.sender import EmailSender, SmtpSender
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)


class EmailDeliveryWorker:
    def __init__(
        self, db: Database, settings: NotificationSettings, *, sender: EmailSender | None = None
    ) -> None:
        self.sender = sender or SmtpSender(settings)
        self.service = DeliveryService(
            db,
            self.sender,
            policy=RetryPolicy(settings.email_retry_seconds, settings.email_max_attempts),
            batch_size=settings.email_batch_size,
            concurrency=settings.email_concurrency,
            lease_seconds=settings.email_sending_lease_seconds,
        )
        self.poll_seconds = settings.email_poll_seconds
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        log.info("email delivery started", poll_seconds=self.poll_seconds)
        try:
            while not self._stopping.is_set():
                busy = False
                try:
                    result = await self.service.tick()
                    # a full batch: more may be due, go on without waiting
                    busy = result.claimed >= self.service.batch_size
                    if result.claimed:
                        log.info(
                            "emails delivered",
                            sent=result.sent,
                            retried=result.retried,
                            failed=result.failed,
                        )
                except Exception:
                    log.exception("email delivery tick failed")
                if not busy:
                    await self._wait(self.poll_seconds)
        finally:
            await self.sender.close()
            log.info("email delivery stopped")

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


def email_worker(ctx: ServiceContext) -> EmailDeliveryWorker:
    return EmailDeliveryWorker(ctx.database(), cast(NotificationSettings, ctx.settings))
