"""Ingest: every domain event of every service becomes a delivery for each of its agency's
enabled endpoints subscribed to it.

A consumer group of its own (`notification-webhooks`) reads every `<service>.events` topic,
parsed and grouped per agency as the feed recorder does. Per fetched batch, one transaction:
agency after agency (tenant-id order, the tenant set before each agency's statements), one
query for the agency's enabled endpoints, then one delivery per (endpoint, event) that the
feed's catalog lets partners receive and the endpoint subscribed to; it commits, then the
offsets do, then the dispatcher is woken. A redelivered batch creates nothing twice (the
deliveries' unique constraint). When the batch's transaction fails, each agency is tried on
its own (a few times); an agency whose events still fail goes to the topics' dead-letter
topics, as the consumer runner does, so nothing is dropped silently.

An endpoint never receives the news of its own failure or disabling: a failing endpoint
subscribed to `*` would otherwise feed on itself.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import dlq_topic, stop_consumer
from agencyos.common.db import TENANT_SETTING, Database, set_local
from agencyos.common.events import CloudEvent, WebhookEndpointDisabled, WebhookFailed
from agencyos.common.logs import get_logger
from agencyos.common.outbox import ProducerSlot
from agencyos.common.web import ServiceContext
from agencyos.notification.feed.recorder import Consumed, Record, by_tenant, parse, source_topics
from agencyos.notification.models import WebhookEndpoint
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.deliveries import (
    LIVE,
    attempts_allowed,
    deliverable,
    subscribed,
)
from agencyos.notification.webhooks.repository import RecordedEvent, create_deliveries

log = get_logger(__name__)

CONSUMER_NAME = "notification-webhooks"
ABOUT_AN_ENDPOINT = frozenset({WebhookFailed.event_type, WebhookEndpointDisabled.event_type})

WEBHOOK_INGESTED = Counter(
    "agencyos_webhook_ingested_total",
    "Deliveries created by the webhook ingest (a redelivered event creates none)",
)


def _about(event: CloudEvent, endpoint_id: uuid.UUID) -> bool:
    return event.type in ABOUT_AN_ENDPOINT and str(event.data.get("endpoint_id")) == str(
        endpoint_id
    )


async def ingest_tenant(
    session: AsyncSession, events: Sequence[CloudEvent], *, max_attempts: int
) -> int:
    """Deliveries for one agency's `events` (in order) in the caller's transaction, whose
    tenant is set; answers how many were created now."""
    wanted = [event for event in events if deliverable(event.type)]
    if not wanted:
        return 0
    endpoints = (
        await session.execute(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.enabled)
        )
    ).all()
    envelopes = {event.id: event.model_dump(mode="json", exclude_none=True) for event in wanted}
    created = 0
    for endpoint_id, event_types in endpoints:
        # one statement per endpoint, its events in the order they came
        mine = [
            RecordedEvent(event.id, event.type, event.time, envelopes[event.id])
            for event in wanted
            if subscribed(list(event_types), event.type) and not _about(event, endpoint_id)
        ]
        created += await create_deliveries(
            session,
            tenant_id=wanted[0].tenantid,
            endpoint_id=endpoint_id,
            events=mine,
            origin=LIVE,
            max_attempts=max_attempts,
        )
    return created


class WebhookIngest:
    """The ingesting consumer; `ingest` is its database half, usable without Kafka."""

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        *,
        retry_seconds: Sequence[float],
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_seconds: float = 0.05,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.2,
        on_created: Callable[[], None] | None = None,
        group_id: str | None = None,
    ) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.delivery_attempts = attempts_allowed(list(retry_seconds))
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.max_attempts = max(1, max_attempts)
        self.retry_backoff_seconds = retry_backoff_seconds
        self.on_created = on_created
        self.group_id = group_id or f"{topic_prefix}agencyos-{CONSUMER_NAME}"
        self._stopping = asyncio.Event()
        self._producer = ProducerSlot(
            bootstrap, f"agencyos-{CONSUMER_NAME}", stop_timeout_seconds=10.0
        )

    def stop(self) -> None:
        self._stopping.set()

    # --- the database half -------------------------------------------------------------------

    async def ingest(self, items: Sequence[Consumed]) -> int:
        """Create the deliveries of `items` (any agencies); answers how many were created."""
        grouped = by_tenant(items)
        if not grouped:
            return 0
        try:
            created = 0
            async with self.db.transaction(None) as session:
                for tenant_id in sorted(grouped):
                    await set_local(session, {TENANT_SETTING: str(tenant_id)})
                    created += await ingest_tenant(
                        session,
                        [item.event for item in grouped[tenant_id]],
                        max_attempts=self.delivery_attempts,
                    )
        except Exception as exc:
            log.warning(
                "webhook ingest failed in one transaction; agency by agency",
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
            created = 0
            for tenant_id, batch in grouped.items():
                created += await self._ingest_with_retries(tenant_id, batch)
        self._created(created)
        return created

    def _created(self, created: int) -> None:
        if created:
            WEBHOOK_INGESTED.inc(created)
            if self.on_created is not None:
                self.on_created()

    async def _ingest_with_retries(self, tenant_id: uuid.UUID, batch: list[Consumed]) -> int:
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with self.db.transaction(tenant_id) as session:
                    return await ingest_tenant(
                        session, [item.event for item in batch], max_attempts=self.delivery_attempts
                    )
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:2000]
                log.warning("webhook ingest failed", tenant_id=str(tenant_id), attempt=attempt)
            await asyncio.sleep(self.retry_backoff_seconds * 2 ** (attempt - 1))
        for item in batch:
            await self._dead_letter(item, error)
        return 0

    async def _dead_letter(self, item: Consumed, error: str) -> None:
        log.error(
            "webhook ingest dead-letters an event",
            event_id=str(item.event.id),
            event_type=item.event.type,
            error=error,
        )
        record = item.record
        if record is None:
            return
        producer = await self._producer.get()
        headers = [
            *list(record.headers or ()),
            ("x-agencyos-consumer", CONSUMER_NAME.encode()),
            ("x-agencyos-error", error.encode()),
            ("x-agencyos-original-topic", record.topic.encode()),
            ("x-agencyos-original-partition", str(record.partition).encode()),
            ("x-agencyos-original-offset", str(record.offset).encode()),
        ]
        await producer.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )

    # --- the Kafka half ----------------------------------------------------------------------

    async def handle(self, batches: Mapping[TopicPartition, Sequence[Record]]) -> None:
        items = [
            Consumed(event, record)
            for records in batches.values()
            for record in records
            if (event := parse(record)) is not None
        ]
        await self.ingest(items)

    async def run(self) -> None:
        log.info("webhook ingest started", group=self.group_id)
        try:
            while not self._stopping.is_set():
                consumer = AIOKafkaConsumer(
                    *source_topics(self.topic_prefix),
                    bootstrap_servers=self.bootstrap,
                    group_id=self.group_id,
                    client_id=f"agencyos-{CONSUMER_NAME}",
                    enable_auto_commit=False,
                    auto_offset_reset="earliest",
                    isolation_level="read_committed",
                )
                try:
                    await consumer.start()
                    while not self._stopping.is_set():
                        batches = await consumer.getmany(
                            timeout_ms=int(self.poll_seconds * 1000), max_records=self.batch_size
                        )
                        if not batches:
                            continue
                        await self.handle(batches)
                        await consumer.commit(
                            {tp: records[-1].offset + 1 for tp, records in batches.items()}
                        )
                except (KafkaError, OSError) as exc:
                    log.warning("webhook ingest lost kafka; reconnecting", error=repr(exc))
                    await self._producer.drop()
                    try:
                        await asyncio.wait_for(self._stopping.wait(), timeout=2.0)
                    except TimeoutError:
                        pass
                finally:
                    await stop_consumer(consumer)
        finally:
            await self._producer.drop()
            log.info("webhook ingest stopped")


def webhook_ingest(
    ctx: ServiceContext, on_created: Callable[[], None] | None = None
) -> WebhookIngest:
    settings = cast(NotificationSettings, ctx.settings)
    return WebhookIngest(
        ctx.database(),
        settings.kafka_bootstrap,
        retry_seconds=settings.webhook_retry_seconds,
        topic_prefix=settings.kafka_topic_prefix,
        batch_size=settings.feed_batch_size,
        poll_seconds=settings.feed_poll_seconds,
        max_attempts=settings.feed_max_attempts,
        retry_backoff_seconds=settings.feed_retry_backoff_seconds,
        on_created=on_created,
    )
