"""Consumer runner: Kafka → handler, exactly one effect per event.

Each event is handled in one transaction opened under the event's tenant; the handler's effects
and the inbox row that records the event id commit together, so a redelivered event is seen as
a duplicate and has no second effect. The offset is committed only after that transaction.
A handler that keeps failing is retried a bounded number of times, then the event goes to the
dead-letter topic with the error, and consumption moves on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from opentelemetry import context as otel_context
from opentelemetry import trace
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Database
from agencyos.common.events import CloudEvent
from agencyos.common.logs import bind, get_logger
from agencyos.common.metrics import KAFKA_HANDLED, KAFKA_HANDLING, KAFKA_LAG, KAFKA_LAST_POLL
from agencyos.common.outbox import new_producer
from agencyos.common.tracing import context_from_kafka_headers, tracer

log = get_logger(__name__)


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer after Kafka trouble. aiokafka's `stop()` can raise the CancelledError
    of a fetch task it cancelled itself (the broker went away mid-fetch); that one is not a
    cancellation of ours, and letting it out would end the worker as if cancelled (and take
    the process down). Ours (this task being cancelled) still propagates."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        log.warning("kafka consumer stopped with a cancelled fetch of its own")


Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """The one list of events a service handles: event type → handler."""

    handlers: Mapping[str, Handler]

    @property
    def topics(self) -> list[str]:
        return sorted({event_type.split(".", 1)[0] + ".events" for event_type in self.handlers})


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


class ConsumerRunner:
    def __init__(
        self,
        service: str,
        db: Database,
        bootstrap: str,
        subscription: Subscription,
        *,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.2,
        topic_prefix: str = "",
    ) -> None:
        self.topic_prefix = topic_prefix
        self.service = service
        self.consumer_name = service
        self.db = db
        self.bootstrap = bootstrap
        self.subscription = subscription
        self.max_attempts = max_attempts
        self.retry_backoff_seconds = retry_backoff_seconds
        self._stopping = asyncio.Event()
        self._dlq: AIOKafkaProducer | None = None
        # The (topic, partition) lag series this runner reports, so a revoked partition's
        # series is removed instead of staying at its last value in the wrong process.
        self._lag_series: set[tuple[str, int]] = set()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        if not self.subscription.handlers:
            await self._stopping.wait()
            return
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *[self.topic_prefix + topic for topic in self.subscription.topics],
                bootstrap_servers=self.bootstrap,
                group_id=f"{self.topic_prefix}agencyos-{self.service}",
                client_id=f"agencyos-{self.service}-consumer",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                isolation_level="read_committed",
            )
            try:
                await consumer.start()
                await self._consume(consumer)
            except (KafkaError, OSError) as exc:
                log.warning("consumer lost kafka; reconnecting", error=repr(exc))
                await self._sleep(2.0)
            finally:
                self._forget_lag(set())
                await stop_consumer(consumer)
                if self._dlq is not None:
                    await self._dlq.stop()
                    self._dlq = None

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        """Handle each fetched batch record by record, then commit each partition's offset
        once, after its last handled record. A crash before the commit redelivers records
        whose effects already committed; their inbox rows make those duplicates."""
        while not self._stopping.is_set():
            KAFKA_LAST_POLL.labels(self.service, self.consumer_name).set_to_current_time()
            batches = await consumer.getmany(timeout_ms=500, max_records=100)
            for tp, records in batches.items():
                handled = None
                try:
                    for record in records:
                        await self.handle_record(record)
                        handled = record.offset
                        if self._stopping.is_set():
                            return
                finally:
                    if handled is not None:
                        await consumer.commit({tp: handled + 1})
            await self._report_lag(consumer)

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        assigned = consumer.assignment()
        self._forget_lag({(tp.topic, tp.partition) for tp in assigned})
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            KAFKA_LAG.labels(self.service, self.consumer_name, tp.topic, str(tp.partition)).set(
                max(0, highwater - position)
            )
            self._lag_series.add((tp.topic, tp.partition))

    def _forget_lag(self, keep: set[tuple[str, int]]) -> None:
        """Remove the lag series of partitions this runner no longer consumes."""
        for topic, partition in self._lag_series - keep:
            try:
                KAFKA_LAG.remove(self.service, self.consumer_name, topic, str(partition))
            except KeyError:
                pass
        self._lag_series &= keep

    async def handle_record(self, record: ConsumerRecord[Any, Any]) -> str:
        """Handle one record; returns the outcome. Never raises for a bad event."""
        try:
            event = CloudEvent.model_validate(json.loads(record.value))
        except (ValueError, TypeError, ValidationError) as exc:  # TypeError: no value at all
            await self._dead_letter(record, "unknown", f"unparseable event: {exc}")
            return "dead_lettered"
        handler = self.subscription.handlers.get(event.type)
        if handler is None:
            return "ignored"
        bind(event_id=str(event.id), event_type=event.type, tenant_id=str(event.tenantid))
        # A child of the relay's producer span (its context rides in the record's headers),
        # so the request that wrote the event, its publication and its handling are one trace.
        token = otel_context.attach(context_from_kafka_headers(record.headers))
        try:
            with tracer().start_as_current_span(
                f"process {event.type}",
                kind=trace.SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": record.topic,
                    "messaging.destination.partition.id": str(record.partition),
                    "messaging.kafka.offset": record.offset,
                    "messaging.consumer.group.name": self.consumer_name,
                    "messaging.message.id": str(event.id),
                    "cloudevents.event_type": event.type,
                },
            ) as span:
                outcome = await self._handle_with_retries(record, event, handler)
                span.set_attribute("agencyos.event.outcome", outcome)
                if outcome == "dead_lettered":
                    span.set_status(trace.StatusCode.ERROR, "dead-lettered")
                return outcome
        finally:
            otel_context.detach(token)

    async def _handle_with_retries(
        self, record: ConsumerRecord[Any, Any], event: CloudEvent, handler: Handler
    ) -> str:
        last_error = ""
        for attempt in range(1, self.max_attempts + 1):
            started = time.perf_counter()
            try:
                outcome = await self._handle_once(event, handler)
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                log.warning("event handler failed", attempt=attempt, error=last_error)
                KAFKA_HANDLED.labels(self.service, event.type, "retried").inc()
                if attempt < self.max_attempts:
                    await self._sleep(self.retry_backoff_seconds * 2 ** (attempt - 1))
                continue
            KAFKA_HANDLING.labels(self.service, event.type).observe(time.perf_counter() - started)
            KAFKA_HANDLED.labels(self.service, event.type, outcome).inc()
            return outcome
        await self._dead_letter(record, event.type, last_error)
        return "dead_lettered"

    async def _handle_once(self, event: CloudEvent, handler: Handler) -> str:
        async with self.db.transaction(event.tenantid) as session:
            inserted = (
                await session.execute(
                    text(
                        "INSERT INTO inbox (tenant_id, consumer, event_id, event_type) "
                        "VALUES (:tenant, :consumer, :event_id, :event_type) "
                        "ON CONFLICT DO NOTHING RETURNING event_id"
                    ),
                    {
                        "tenant": event.tenantid,
                        "consumer": self.consumer_name,
                        "event_id": event.id,
                        "event_type": event.type,
                    },
                )
            ).first()
            if inserted is None:
                return "duplicate"
            await handler(session, event)
        return "ok"

    async def _dead_letter(
        self, record: ConsumerRecord[Any, Any], event_type: str, error: str
    ) -> None:
        log.error("event dead-lettered", topic=record.topic, offset=record.offset, error=error)
        KAFKA_HANDLED.labels(self.service, event_type, "dead_lettered").inc()
        if self._dlq is None:
            self._dlq = new_producer(self.bootstrap, f"agencyos-{self.service}-dlq")
            await self._dlq.start()
        headers = [
            *list(record.headers or ()),
            ("x-agencyos-consumer", self.consumer_name.encode()),
            ("x-agencyos-error", error[:2000].encode()),
            ("x-agencyos-original-topic", record.topic.encode()),
            ("x-agencyos-original-partition", str(record.partition).encode()),
            ("x-agencyos-original-offset", str(record.offset).encode()),
        ]
        await self._dlq.send_and_wait(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass


__all__ = ["ConsumerRunner", "Handler", "Subscription", "TopicPartition", "dlq_topic"]
