"""The `webhooks` worker: the ingesting consumer and the dispatcher in one process, the
ingest waking the dispatcher as soon as it created deliveries. Any number of replicas may
run: the consumer group shares the partitions, and claims are row locks and leases."""

from __future__ import annotations

import asyncio
from typing import cast

from agencyos.common.logs import get_logger
from agencyos.common.web import ServiceContext
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.dispatch import WebhookDispatcher
from agencyos.notification.webhooks.ingest import WebhookIngest, webhook_ingest
from agencyos.notification.webhooks.sender import HttpWebhookSender

log = get_logger(__name__)


def http_sender(settings: NotificationSettings) -> HttpWebhookSender:
    return HttpWebhookSender(
        settings.webhook_destination_policy(),
        timeout_seconds=settings.webhook_timeout_seconds,
        body_limit=settings.webhook_response_body_limit,
        max_redirects=settings.webhook_max_redirects,
    )


class WebhookWorker:
    def __init__(self, ingest: WebhookIngest, dispatcher: WebhookDispatcher) -> None:
        self.ingest = ingest
        self.dispatcher = dispatcher

    def stop(self) -> None:
        self.ingest.stop()
        self.dispatcher.stop()

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self.ingest.run(), name="webhooks:ingest"),
            asyncio.create_task(self.dispatcher.run(), name="webhooks:dispatch"),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()


def webhook_worker(ctx: ServiceContext) -> WebhookWorker:
    settings = cast(NotificationSettings, ctx.settings)
    dispatcher = WebhookDispatcher(
        ctx.database(),
        http_sender(settings),
        settings,
        bootstrap=settings.kafka_bootstrap,
        topic_prefix=settings.kafka_topic_prefix,
    )
    return WebhookWorker(webhook_ingest(ctx, on_created=dispatcher.wake), dispatcher)
