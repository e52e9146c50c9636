"""The feed recorder (worker `feed`): every domain event of every service, recorded in its
agency's feed, then published to the feed topic for the stream processes.

One consumer group reads every `<service>.events` topic. Per fetched batch: events are grouped
per agency (keeping their order) and the whole batch is recorded in one transaction, agency
after agency in tenant-id order, the tenant switched before each agency's statements so that
row-level security scopes them to it (work's project states are applied to notification's
projects read model first, so a task event's client is known); then every recorded entry (also
those recorded before: a redelivery publishes them again, and the stream drops a `seq` it
already has) goes to the feed topic, keyed by agency, and only once Kafka has acknowledged them
are the offsets committed. A crash anywhere before that commit redelivers the batch, which
records nothing twice.

One transaction per batch, not per agency: a batch over many agencies holds a few events of
each, and a commit per agency was about a commit per event. Tenant-id order makes two
recorders lock their agencies' `feed_heads` rows in the same order: no deadlock on them.

When that transaction fails, the batch is recorded again one transaction per agency, a few
agencies at once, so a bad event holds back only its own agency. An agency's batch that keeps
failing is retried event by event; an event that still cannot be recorded goes to its topic's
dead-letter topic with the error (as the consumer runner does), so nothing is lost or dropped
silently.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, KafkaTimeoutError
from prometheus_client import Counter, Gauge, Histogram
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import dlq_topic, stop_consumer
from agencyos.common.db import TENANT_SETTING, Database, set_local
from agencyos.common.events import CloudEvent, ProjectState
from agencyos.common.logs import get_logger
from agencyos.common.metrics import LATENCY_BUCKETS
from agencyos.common.outbox import ProducerSlot
from agencyos.common.services import SERVICES
from agencyos.common.web import ServiceContext
from agencyos.notification.directory.projects import project_repository
from agencyos.notification.feed import store
from agencyos.notification.feed.catalog import rule_for
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.notification.settings import NotificationSettings

log = get_logger(__name__)

# The topic the stream processes read: every recorded entry as `FeedEntry.to_message()` JSON,
# keyed by agency (with the run's topic prefix).
FEED_TOPIC = "notification.feed"
CONSUMER_NAME = "notification-feed"
LAG_REPORT_SECONDS = 5.0

FEED_RECORDED = Counter(
    "agencyos_feed_events_total",
    "Events read by the feed recorder, by outcome: recorded, duplicate (recorded before), "
    "not_kept (a type the feed does not keep), unparseable, dead_lettered",
    ["outcome"],
)
FEED_PUBLISHED = Counter(
    "agencyos_feed_entries_published_total",
    "Feed entries published to the feed topic (redeliveries included)",
)
FEED_RETRIED = Counter(
    "agencyos_feed_batches_retried_total",
    "Batches the feed recorder had to retry after a failure (a whole batch, then an agency's)",
)
FEED_LAG = Gauge(
    "agencyos_feed_recorder_lag",
    "Messages the feed recorder is behind the partition's end offset",
    ["topic", "partition"],
)
FEED_DELAY = Histogram(
    "agencyos_feed_record_delay_seconds",
    "From an event's time to its entry being acknowledged on the feed topic (an entry "
    "published again after a redelivery counts again)",
    buckets=LATENCY_BUCKETS,
)

Record: TypeAlias = "ConsumerRecord[Any, Any]"
# Outcomes (FEED_RECORDED's labels) of one transaction's events, counted once it commits: a
# transaction rolled back and tried again would count its events twice.
Tally: TypeAlias = dict[str, int]


def count(tally: Tally) -> None:
    for outcome, events in tally.items():
        if events:
            FEED_RECORDED.labels(outcome).inc(events)


def source_topics(prefix: str = "") -> list[str]:
    return [f"{prefix}{service}.events" for service in SERVICES]


def parse(record: Record) -> CloudEvent | None:
    """The record's CloudEvent, or None (logged and counted) when it is not one."""
    try:
        return CloudEvent.model_validate(json.loads(record.value))
    except (ValueError, TypeError, ValidationError) as exc:  # TypeError: no value at all
        log.error(
            "feed recorder skips an unparseable record",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            error=str(exc)[:500],
        )
        FEED_RECORDED.labels("unparseable").inc()
        return None


@dataclass(frozen=True)
class Consumed:
    """A parsed event with the record it came from (for dead-lettering)."""

    event: CloudEvent
    record: Record | None = None


def by_tenant(items: Iterable[Consumed]) -> dict[uuid.UUID, list[Consumed]]:
    """Events per agency, each agency's in the order given."""
    grouped: dict[uuid.UUID, list[Consumed]] = {}
    for item in items:
        grouped.setdefault(item.event.tenantid, []).append(item)
    return grouped


def _uuid_field(data: Mapping[str, Any], name: str) -> uuid.UUID | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _project_state(event: CloudEvent) -> tuple[uuid.UUID, ProjectState] | None:
    if not event.type.startswith("work.project."):
        return None
    raw = event.data.get("project")
    project_id = event.data.get("project_id")
    if not raw or not project_id:
        return None
    try:
        return uuid.UUID(str(project_id)), ProjectState.model_validate(raw)
    except (ValueError, ValidationError):
        return None


async def record_tenant(
    session: AsyncSession, tenant_id: uuid.UUID, events: Sequence[CloudEvent], tally: Tally
) -> list[FeedEntry]:
    """Record one agency's `events` (in order) in the caller's transaction, whose tenant is
    set to `tenant_id`; answers every entry as recorded (earlier recordings included) and adds
    the events' outcomes to `tally`."""
    kept = [event for event in events if rule_for(event.type) is not None]
    tally["not_kept"] = tally.get("not_kept", 0) + len(events) - len(kept)
    if not kept:
        return []
    for event in kept:
        state = _project_state(event)
        if state is not None:
            await project_repository.apply(session, tenant_id, *state)
    # Types whose data names no client take their project's (tasks): known now even for a
    # project created in this very batch.
    needs_client = {
        event.id: project_id
        for event in kept
        if (rule := rule_for(event.type)) is not None
        and rule.client is None
        and rule.project is not None
        and (project_id := _uuid_field(event.data, rule.project)) is not None
    }
    projects = await project_repository.by_ids(session, needs_client.values())
    described = []
    for event in kept:
        project = projects.get(needs_client[event.id]) if event.id in needs_client else None
        entry = store.describe(
            event, project_client_id=project.client_id if project is not None else None
        )
        if entry is not None:
            described.append(entry)
    last_before, _ = await store.position(session)
    recorded = await store.record(session, tenant_id, described)
    fresh = sum(1 for entry in recorded if entry.seq > last_before)
    tally["recorded"] = tally.get("recorded", 0) + fresh
    tally["duplicate"] = tally.get("duplicate", 0) + len(recorded) - fresh
    return recorded


class FeedRecorder:
    """The `feed` worker; `record` is its database half, usable without Kafka."""

    def __init__(
        self,
        db: Database,
        bootstrap: str,
        *,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_seconds: float = 0.05,
        concurrency: int = 4,
        max_attempts: int = 5,
        retry_backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 30.0,
        send_timeout_seconds: float = 15.0,
        group_id: str | None = None,
    ) -> None:
        self.db = db
        self.bootstrap = bootstrap
        self.topic_prefix = topic_prefix
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.concurrency = max(1, concurrency)
        self.max_attempts = max(1, max_attempts)
        self.retry_backoff_seconds = retry_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.send_timeout_seconds = send_timeout_seconds
        self.group_id = group_id or f"{topic_prefix}agencyos-{CONSUMER_NAME}"
        self.feed_topic = topic_prefix + FEED_TOPIC
        self._stopping = asyncio.Event()
        self._producer = ProducerSlot(
            bootstrap, f"agencyos-{CONSUMER_NAME}", stop_timeout_seconds=self.send_timeout_seconds
        )

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # --- the database half -----------------------------------------------------------------

    async def record(self, items: Sequence[Consumed]) -> list[FeedEntry] | None:
        """Record `items` (any agencies) in one transaction; when it fails, one transaction
        per agency, a few agencies at once. Answers the entries in each agency's `seq` order,
        or None when stopped before all of them were recorded (nothing may then be
        acknowledged)."""
        grouped = by_tenant(items)
        if not grouped:
            return []
        try:
            return await self._record_batch(grouped)
        except Exception as exc:
            FEED_RETRIED.inc()
            log.warning(
                "feed batch failed in one transaction; recording agency by agency",
                agencies=len(grouped),
                events=sum(len(batch) for batch in grouped.values()),
                error=f"{type(exc).__name__}: {exc}"[:2000],
            )
        return await self._record_per_tenant(grouped)

    async def _record_batch(self, grouped: Mapping[uuid.UUID, list[Consumed]]) -> list[FeedEntry]:
        """Every agency's events in one transaction, agencies in tenant-id order, each agency's
        statements under its own tenant (set transaction-locally, as `Database.transaction`
        does)."""
        entries: list[FeedEntry] = []
        tally: Tally = {}
        async with self.db.transaction(None) as session:
            for tenant_id in sorted(grouped):
                await set_local(session, {TENANT_SETTING: str(tenant_id)})
                events = [item.event for item in grouped[tenant_id]]
                entries.extend(await record_tenant(session, tenant_id, events, tally))
        count(tally)
        return entries

    async def _record_per_tenant(
        self, grouped: Mapping[uuid.UUID, list[Consumed]]
    ) -> list[FeedEntry] | None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(tenant_id: uuid.UUID, batch: list[Consumed]) -> list[FeedEntry] | None:
            async with gate:
                return await self._record_with_retries(tenant_id, batch)

        results = await asyncio.gather(*(one(t, b) for t, b in grouped.items()))
        if any(result is None for result in results):
            return None
        return [entry for result in results for entry in cast(list[FeedEntry], result)]

    async def _record_once(
        self, tenant_id: uuid.UUID, events: Sequence[CloudEvent]
    ) -> list[FeedEntry]:
        tally: Tally = {}
        async with self.db.transaction(tenant_id) as session:
            entries = await record_tenant(session, tenant_id, events, tally)
        count(tally)
        return entries

    async def _record_with_retries(
        self, tenant_id: uuid.UUID, batch: list[Consumed]
    ) -> list[FeedEntry] | None:
        events = [item.event for item in batch]
        error = await self._attempts(tenant_id, events)
        if not isinstance(error, str):
            return error
        if len(batch) == 1:
            await self._dead_letter(batch[0], error)
            return []
        # One event may be the culprit: record them one by one, dead-lettering only it.
        log.warning("feed batch keeps failing; recording event by event", tenant_id=str(tenant_id))
        entries: list[FeedEntry] = []
        for item in batch:
            outcome = await self._attempts(tenant_id, [item.event])
            if outcome is None:
                return None
            if isinstance(outcome, str):
                await self._dead_letter(item, outcome)
                continue
            entries.extend(outcome)
        return entries

    async def _attempts(
        self, tenant_id: uuid.UUID, events: Sequence[CloudEvent]
    ) -> list[FeedEntry] | str | None:
        """The recorded entries, the last error after `max_attempts` failures, or None when
        stopped meanwhile."""
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await self._record_once(tenant_id, events)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:2000]
                FEED_RETRIED.inc()
                log.warning(
                    "feed recording failed",
                    tenant_id=str(tenant_id),
                    events=len(events),
                    attempt=attempt,
                    error=error,
                )
            if attempt < self.max_attempts:
                delay = min(
                    self.retry_backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds
                )
                if await self._sleep(delay):
                    return None
        return error

    async def _dead_letter(self, item: Consumed, error: str) -> None:
        FEED_RECORDED.labels("dead_lettered").inc()
        record = item.record
        log.error(
            "feed recorder dead-letters an event it cannot record",
            event_id=str(item.event.id),
            event_type=item.event.type,
            tenant_id=str(item.event.tenantid),
            error=error,
        )
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

    async def publish(self, entries: Sequence[FeedEntry]) -> None:
        """Send `entries` to the feed topic and wait until Kafka has them all."""
        if not entries:
            return
        producer = await self._producer.get()
        futures = [
            await producer.send(
                self.feed_topic,
                value=json.dumps(entry.to_message(), separators=(",", ":")).encode(),
                key=str(entry.tenant_id).encode(),
            )
            for entry in entries
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*futures), self.send_timeout_seconds)
        except TimeoutError as exc:
            raise KafkaTimeoutError(
                f"kafka did not acknowledge {len(entries)} feed entries in "
                f"{self.send_timeout_seconds}s"
            ) from exc
        FEED_PUBLISHED.inc(len(entries))
        now = time.time()
        for entry in entries:
            FEED_DELAY.observe(max(0.0, now - entry.occurred_at.timestamp()))

    async def handle(self, batches: Mapping[TopicPartition, Sequence[Record]]) -> bool:
        """Record and publish one fetched batch; False when stopped before it was done."""
        items = []
        for records in batches.values():
            for record in records:
                event = parse(record)
                if event is not None:
                    items.append(Consumed(event, record))
        entries = await self.record(items)
        if entries is None:
            return False
        await self.publish(entries)
        return True

    async def run(self) -> None:
        log.info("feed recorder started", group=self.group_id, topic=self.feed_topic)
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
                    await self._consume(consumer)
                except (KafkaError, OSError) as exc:
                    log.warning("feed recorder lost kafka; reconnecting", error=repr(exc))
                    await self._producer.drop()
                    await self._sleep(2.0)
                finally:
                    await stop_consumer(consumer)
        finally:
            await self._producer.drop()
            log.info("feed recorder stopped")

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        lag_due = 0.0
        while not self._stopping.is_set():
            batches = await consumer.getmany(
                timeout_ms=int(self.poll_seconds * 1000), max_records=self.batch_size
            )
            if batches:
                if not await self.handle(batches):
                    return  # stopped mid-batch: its offsets stay uncommitted
                await consumer.commit(
                    {tp: records[-1].offset + 1 for tp, records in batches.items() if records}
                )
            if time.monotonic() >= lag_due:
                await self._report_lag(consumer)
                lag_due = time.monotonic() + LAG_REPORT_SECONDS

    async def _report_lag(self, consumer: AIOKafkaConsumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            position = await consumer.position(tp)
            FEED_LAG.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))

    async def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`; True when stopped meanwhile."""
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True


def feed_recorder(ctx: ServiceContext) -> FeedRecorder:
    settings = cast(NotificationSettings, ctx.settings)
    return FeedRecorder(
        ctx.database(),
        settings.kafka_bootstrap,
        topic_prefix=settings.kafka_topic_prefix,
        batch_size=settings.feed_batch_size,
        poll_seconds=settings.feed_poll_seconds,
        concurrency=settings.feed_concurrency,
        max_attempts=settings.feed_max_attempts,
        retry_backoff_seconds=settings.feed_retry_backoff_seconds,
    )
