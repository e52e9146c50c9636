"""Transactional outbox: an event is written in the same transaction as the state change,
and a relay publishes it to Kafka afterwards. Kafka being down grows the outbox; it never
loses an event (ARCHITECTURE.md §5)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, KafkaTimeoutError
from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.actor_context import current_actor_context
from agencyos.common.db import RELAY_SETTING, Database, current_tenant
from agencyos.common.events import CloudEvent, EventPayload, build_event
from agencyos.common.logs import get_logger
from agencyos.common.metrics import (
    EVENTS_PUBLISHED,
    KAFKA_REACHABLE,
    OUTBOX_BACKLOG,
    OUTBOX_PUBLISHED,
)
from agencyos.common.tracing import (
    AUTOMATION_DEPTH_EXTENSION,
    automation_depth,
    extract_context,
    inject_headers,
    tracer,
)

log = get_logger(__name__)

# Only one relay per database publishes at a time, so per-tenant order holds with replicas.
RELAY_LOCK_KEY = 0x0A6E_C905


async def kafka_reachable(bootstrap: str, timeout: float = 1.0) -> None:
    """Raises unless the first bootstrap broker accepts a TCP connection within `timeout`."""
    host, _, port = bootstrap.split(",")[0].strip().rpartition(":")
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
    writer.close()
    await writer.wait_closed()


async def publish(
    session: AsyncSession,
    payload: EventPayload,
    *,
    source_service: str,
    subject: str | None = None,
    tenant_id: uuid.UUID | None = None,
) -> CloudEvent:
    """Record `payload` as an event in the caller's transaction (committed with its effects)."""
    tenant = tenant_id or await current_tenant(session)
    if tenant is None:
        raise RuntimeError("publish needs a tenant: open the transaction with one")
    trace = inject_headers()
    event = build_event(
        payload,
        tenant_id=tenant,
        source_service=source_service,
        subject=subject,
        traceparent=trace.get("traceparent"),
        tracestate=trace.get("tracestate"),
    )
    depth = automation_depth()
    if depth:
        setattr(event, AUTOMATION_DEPTH_EXTENSION, depth)
    actor = current_actor_context()
    if actor is not None:
        # Who asked for it: the request's IP address, user agent and request id.
        for name, value in actor.extensions().items():
            setattr(event, name, value)
    await session.execute(
        text(
            "INSERT INTO outbox (tenant_id, event_id, topic, event_type, envelope, headers) "
            "VALUES (:tenant_id, :event_id, :topic, :event_type, "
            "CAST(:envelope AS jsonb), CAST(:headers AS jsonb))"
        ),
        {
            "tenant_id": tenant,
            "event_id": event.id,
            "topic": payload.topic(),
            "event_type": event.type,
            "envelope": event.model_dump_json(exclude_none=True),
            "headers": json.dumps(trace),
        },
    )
    return event


def new_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=10_000,
    )


class ProducerSlot:
    """One lazily started producer, dropped (and started again on next use) after Kafka
    trouble: the relay's and any other long-running publisher's. `stop()` flushes, which hangs
    while the broker is away, so dropping waits at most `stop_timeout_seconds`."""

    def __init__(self, bootstrap: str, client_id: str, *, stop_timeout_seconds: float) -> None:
        self.bootstrap = bootstrap
        self.client_id = client_id
        self.stop_timeout_seconds = stop_timeout_seconds
        self._producer: AIOKafkaProducer | None = None

    async def get(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self.bootstrap, self.client_id)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def drop(self) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            await asyncio.wait_for(producer.stop(), self.stop_timeout_seconds)
        except Exception:
            log.warning("kafka producer did not stop cleanly", client_id=self.client_id)


def send_span(stored: dict[str, str], topic: str, envelope: dict[str, Any]) -> trace.Span:
    """The producer span of one event the relay sends: a child of the work that wrote it
    (the trace context stored with the outbox row), so the request's trace reaches Kafka."""
    return tracer().start_span(
        f"send {envelope.get('type', topic)}",
        context=extract_context(stored),
        kind=trace.SpanKind.PRODUCER,
        attributes={
            "messaging.system": "kafka",
            "messaging.operation.type": "send",
            "messaging.destination.name": topic,
            "messaging.message.id": str(envelope.get("id", "")),
            "cloudevents.event_type": str(envelope.get("type", "")),
        },
    )


def relayed_headers(stored: dict[str, str], span: trace.Span) -> list[tuple[str, bytes]]:
    """The Kafka headers of a relayed event: its stored context (baggage included), with the
    producer span as the parent a consumer's span names."""
    carrier = {k: str(v) for k, v in stored.items()}
    inject_headers(carrier, trace.set_span_in_context(span, extract_context(stored)))
    return [(k, v.encode()) for k, v in carrier.items()]


class OutboxRelay:
    """Publishes unpublished outbox rows in id order and marks them sent."""

    def __init__(
        self,
        service: str,
        db: Database,
        bootstrap: str,
        *,
        poll_seconds: float = 0.2,
        batch_size: int = 200,
        retain_published_hours: int = 24,
        topic_prefix: str = "",
        send_timeout_seconds: float = 15.0,
    ) -> None:
        self.topic_prefix = topic_prefix
        # An idempotent producer never expires a batch on its own: without this bound a relay
        # would sit in its transaction (holding the lock) for a whole broker outage.
        self.send_timeout_seconds = send_timeout_seconds
        self.service = service
        self.db = db
        self.bootstrap = bootstrap
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.retain_published_hours = retain_published_hours
        self._stopping = asyncio.Event()
        self._producer = ProducerSlot(
            bootstrap, f"agencyos-{service}-relay", stop_timeout_seconds=send_timeout_seconds
        )

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        backoff = self.poll_seconds
        cycles = 0
        try:
            while not self._stopping.is_set():
                try:
                    producer = await self._producer.get()
                    published = await self.publish_batch(producer)
                    backoff = self.poll_seconds
                    cycles += 1
                    if cycles % 50 == 1:
                        await self._housekeeping()
                        # An idle relay sends nothing, so ask the broker now and then.
                        await kafka_reachable(self.bootstrap)
                    KAFKA_REACHABLE.labels(self.service).set(1)
                    if published:
                        continue
                except (TimeoutError, KafkaError, OSError) as exc:
                    log.warning("outbox relay cannot reach kafka", error=repr(exc))
                    KAFKA_REACHABLE.labels(self.service).set(0)
                    await self._producer.drop()
                    backoff = min(backoff * 2, 5.0)
                except Exception:
                    log.exception("outbox relay cycle failed")
                    backoff = min(backoff * 2, 5.0)
                await self._wait(backoff)
        finally:
            await self._producer.drop()

    async def publish_batch(self, producer: AIOKafkaProducer) -> int:
        """Publish one batch; returns how many rows were sent. The rows stay locked (and
        unpublished) until Kafka has acknowledged every one of them."""
        async with self.db.transaction(None, settings={RELAY_SETTING: "on"}) as session:
            locked = (
                await session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
                )
            ).scalar_one()
            if not locked:
                return 0
            rows = (
                await session.execute(
                    text(
                        "SELECT id, tenant_id, topic, envelope, headers FROM outbox "
                        "WHERE published_at IS NULL ORDER BY id LIMIT :n"
                    ),
                    {"n": self.batch_size},
                )
            ).all()
            if not rows:
                return 0
            futures = []
            spans = []
            try:
                for row in rows:
                    topic = self.topic_prefix + row.topic
                    span = send_span(row.headers or {}, topic, row.envelope)
                    spans.append(span)
                    futures.append(
                        await producer.send(
                            topic,
                            value=json.dumps(row.envelope).encode(),
                            key=str(row.tenant_id).encode(),
                            headers=relayed_headers(row.headers or {}, span),
                        )
                    )
                try:
                    await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout_seconds)
                except TimeoutError as exc:
                    raise KafkaTimeoutError(
                        f"kafka did not acknowledge {len(rows)} events in "
                        f"{self.send_timeout_seconds}s"
                    ) from exc
            except BaseException as exc:
                for span in spans:
                    span.set_status(trace.StatusCode.ERROR, repr(exc))
                raise
            finally:
                for span in spans:
                    span.end()
            await session.execute(
                text("UPDATE outbox SET published_at = now() WHERE id = ANY(:ids)"),
                {"ids": [row.id for row in rows]},
            )
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        for row in rows:
            EVENTS_PUBLISHED.labels(self.service, str(row.envelope.get("type", ""))).inc()
        return len(rows)

    async def _housekeeping(self) -> None:
        async with self.db.transaction(None, settings={RELAY_SETTING: "on"}) as session:
            backlog = (
                await session.execute(
                    text("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                )
            ).scalar_one()
            await session.execute(
                text("DELETE FROM outbox WHERE published_at < now() - make_interval(hours => :h)"),
                {"h": self.retain_published_hours},
            )
        OUTBOX_BACKLOG.labels(self.service).set(backlog)

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass
