"""The delivery worker as the runtime runs it: polling until stopped, sending what is due."""

from __future__ import annotations

import asyncio
import uuid

from agencyos.common.db import Database
from agencyos.notification.email.message import Addressee, RenderedEmail
from agencyos.notification.email.queue import queue_email
from agencyos.notification.email.worker import EmailDeliveryWorker
from agencyos.testing.inprocess import Agency
from agencyos.testing.smtp_sink import SmtpSink

from .conftest import settings_for


async def eventually_received(sink: SmtpSink, to: str, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not sink.to(to):
            await asyncio.sleep(0.05)


class TestPolling:
    async def test_an_email_queued_while_the_worker_runs_is_sent_and_the_worker_stops_cleanly(
        self, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        worker = EmailDeliveryWorker(
            notification_db, settings_for(smtp_sink, email_poll_seconds=0.05)
        )
        running = asyncio.create_task(worker.run())
        to = f"w-{uuid.uuid4().hex[:8]}@example.com"
        try:
            async with notification_db.transaction(tenant.id) as session:
                await queue_email(
                    session,
                    tenant_id=tenant.id,
                    source_event_id=uuid.uuid4(),
                    template="notice",
                    to=Addressee(to),
                    rendered=RenderedEmail("Hi", "<p>Hi</p>", "Hi"),
                )

            await eventually_received(smtp_sink, to)
        finally:
            worker.stop()
            await asyncio.wait_for(running, 5)

        assert len(smtp_sink.to(to)) == 1
