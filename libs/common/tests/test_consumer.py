"""The consumer runner against the real PostgreSQL and Kafka: one effect per event, bounded
retries, poison events to the dead-letter topic, offsets committed only after handling."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import (
    ConsumerRunner,
    Handler,
    Subscription,
    dlq_topic,
    stop_consumer,
)
from agencyos.common.db import Database, current_tenant
from agencyos.common.events import CloudEvent, EventPayload, build_event
from agencyos.testing.infra import Infra, wait_for

Record = ConsumerRecord[bytes, bytes]


class WidgetNamed(EventPayload):
    """A test-only event; its topic is `common.events`."""

    event_type: ClassVar[str] = "common.widget.named"
    widget_id: uuid.UUID
    name: str


class RunWidgetNamed(WidgetNamed):
    """The same, on a topic of its own (`runs.events`) for the tests that run the loop."""

    event_type: ClassVar[str] = "runs.widget.named"


def widget_event(
    tenant_id: uuid.UUID, name: str = "w", payload_cls: type[WidgetNamed] = WidgetNamed
) -> CloudEvent:
    return build_event(
        payload_cls(widget_id=uuid.uuid4(), name=name),
        tenant_id=tenant_id,
        source_service="common",
    )


def wire(event: CloudEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


async def insert_widget(session: AsyncSession, event: CloudEvent) -> None:
    data = WidgetNamed.model_validate(event.data)
    await session.execute(
        text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, :name)"),
        {"t": event.tenantid, "id": data.widget_id, "name": data.name},
    )


async def inbox_has(db: Database, event: CloudEvent) -> bool:
    async with db.transaction(event.tenantid) as session:
        found = (
            await session.execute(
                text("SELECT count(*) FROM inbox WHERE event_id = :id"), {"id": event.id}
            )
        ).scalar()
    return bool(found)


def headers_of(record: Record) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def dead_letters_of(kafka: Any, record: Record) -> list[Record]:
    """The records on `record`'s dead-letter topic that stand for `record`."""
    return [
        dead
        for dead in await kafka.read_all(dlq_topic(record.topic))
        if headers_of(dead).get("x-agencyos-original-offset") == str(record.offset)
        and headers_of(dead).get("x-agencyos-original-topic") == record.topic
    ]


@pytest.fixture
def topic(kafka_topics: str) -> str:
    return f"{kafka_topics}common.events"


@pytest.fixture
def make_runner(
    db: Database, infra: Infra, kafka_topics: str
) -> Callable[[dict[str, Handler]], ConsumerRunner]:
    """A runner of a consumer no other test shares (its own name, inbox rows, group)."""

    def build(handlers: dict[str, Handler], max_attempts: int = 3) -> ConsumerRunner:
        return ConsumerRunner(
            f"widgets-{uuid.uuid4().hex[:8]}",
            db,
            infra.kafka_bootstrap,
            Subscription(handlers),
            max_attempts=max_attempts,
            retry_backoff_seconds=0.01,
            topic_prefix=kafka_topics,
        )

    return build


class CountingHandler:
    """A handler that records its calls, inserts a widget, then fails `failures` times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.tenants: list[uuid.UUID | None] = []

    async def __call__(self, session: AsyncSession, event: CloudEvent) -> None:
        self.calls += 1
        self.tenants.append(await current_tenant(session))
        await insert_widget(session, event)
        if self.calls <= self.failures:
            raise RuntimeError(f"handler failed on call {self.calls}")


class TestExactlyOneEffect:
    async def test_the_same_record_delivered_twice_has_one_effect(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        runner = make_runner({"common.widget.named": insert_widget})
        record = await kafka.produce(topic, wire(widget_event(tenant)), key=tenant.bytes)

        outcomes = [await runner.handle_record(record), await runner.handle_record(record)]

        assert outcomes == ["ok", "duplicate"]
        assert await widget_count(tenant) == 1

    async def test_the_same_event_republished_as_a_new_record_is_a_duplicate(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        # The relay may send an event twice (a crash between send and mark-as-published).
        runner = make_runner({"common.widget.named": insert_widget})
        event = widget_event(tenant)
        first = await kafka.produce(topic, wire(event))
        second = await kafka.produce(topic, wire(event))

        outcomes = [await runner.handle_record(first), await runner.handle_record(second)]

        assert second.offset != first.offset
        assert outcomes == ["ok", "duplicate"]
        assert await widget_count(tenant) == 1

    async def test_the_handler_runs_under_the_events_tenant(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID
    ) -> None:
        handler = CountingHandler()
        runner = make_runner({"common.widget.named": handler})
        record = await kafka.produce(topic, wire(widget_event(tenant)))

        await runner.handle_record(record)

        assert handler.tenants == [tenant]

    async def test_a_handled_event_is_recorded_in_the_inbox(
        self, db: Database, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID
    ) -> None:
        runner = make_runner({"common.widget.named": insert_widget})
        event = widget_event(tenant)

        await runner.handle_record(await kafka.produce(topic, wire(event)))

        assert await inbox_has(db, event)


class TestRetries:
    async def test_a_handler_that_fails_once_is_retried_and_its_effect_lands_once(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        handler = CountingHandler(failures=1)
        runner = make_runner({"common.widget.named": handler})
        record = await kafka.produce(topic, wire(widget_event(tenant)))

        outcome = await runner.handle_record(record)

        assert (outcome, handler.calls) == ("ok", 2)
        assert await widget_count(tenant) == 1

    async def test_a_handler_that_always_fails_is_tried_max_attempts_times(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID
    ) -> None:
        handler = CountingHandler(failures=1_000)
        runner = make_runner({"common.widget.named": handler}, max_attempts=4)
        record = await kafka.produce(topic, wire(widget_event(tenant)))

        outcome = await runner.handle_record(record)

        assert (outcome, handler.calls) == ("dead_lettered", 4)


class TestDeadLetters:
    async def test_an_event_whose_handler_keeps_failing_lands_on_the_dlq_with_the_error(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID
    ) -> None:
        runner = make_runner({"common.widget.named": CountingHandler(failures=1_000)})
        record = await kafka.produce(topic, wire(widget_event(tenant)), key=b"k-" + tenant.bytes)

        await runner.handle_record(record)

        [dead] = await dead_letters_of(kafka, record)
        headers = headers_of(dead)
        assert headers["x-agencyos-consumer"] == runner.consumer_name
        assert "RuntimeError: handler failed on call 3" in headers["x-agencyos-error"]
        assert (dead.key, dead.value) == (record.key, record.value)

    async def test_the_failed_attempts_of_a_dead_lettered_event_left_no_effects(
        self,
        db: Database,
        make_runner: Any,
        kafka: Any,
        topic: str,
        tenant: uuid.UUID,
        widget_count: Any,
    ) -> None:
        runner = make_runner({"common.widget.named": CountingHandler(failures=1_000)})
        event = widget_event(tenant)

        await runner.handle_record(await kafka.produce(topic, wire(event)))

        assert await widget_count(tenant) == 0
        assert not await inbox_has(db, event)

    async def test_an_unparseable_message_is_dead_lettered(
        self, make_runner: Any, kafka: Any, topic: str
    ) -> None:
        runner = make_runner({"common.widget.named": insert_widget})
        record = await kafka.produce(topic, b"{not json")

        outcome = await runner.handle_record(record)

        assert outcome == "dead_lettered"
        [dead] = await dead_letters_of(kafka, record)
        assert "unparseable" in headers_of(dead)["x-agencyos-error"]
        assert dead.value == b"{not json"

    async def test_json_that_is_not_a_cloudevent_is_dead_lettered(
        self, make_runner: Any, kafka: Any, topic: str
    ) -> None:
        runner = make_runner({"common.widget.named": insert_widget})
        record = await kafka.produce(topic, b'{"type": "common.widget.named"}')

        assert await runner.handle_record(record) == "dead_lettered"
        assert len(await dead_letters_of(kafka, record)) == 1

    async def test_a_record_with_no_value_is_dead_lettered(
        self, make_runner: Any, kafka: Any, topic: str
    ) -> None:
        runner = make_runner({"common.widget.named": insert_widget})
        record = await kafka.produce(topic, None, key=b"tombstone")

        assert await runner.handle_record(record) == "dead_lettered"
        assert len(await dead_letters_of(kafka, record)) == 1

    async def test_an_event_type_with_no_handler_is_ignored_not_dead_lettered(
        self, make_runner: Any, kafka: Any, topic: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        runner = make_runner({"common.other.thing": insert_widget})
        record = await kafka.produce(topic, wire(widget_event(tenant)))

        outcome = await runner.handle_record(record)

        assert outcome == "ignored"
        assert await dead_letters_of(kafka, record) == []
        assert await widget_count(tenant) == 0


class TestRunLoop:
    async def test_records_handled_by_run_are_not_seen_again_by_the_same_group(
        self,
        make_runner: Any,
        kafka: Any,
        infra: Infra,
        kafka_topics: str,
        tenant: uuid.UUID,
        widget_count: Any,
    ) -> None:
        topic = f"{kafka_topics}runs.events"
        runner = make_runner({"runs.widget.named": insert_widget})
        group = f"{kafka_topics}agencyos-{runner.service}"
        task = asyncio.create_task(runner.run())
        try:
            handled = [
                await kafka.produce(topic, wire(widget_event(tenant, f"r{i}", RunWidgetNamed)))
                for i in range(3)
            ]
            await wait_for(
                lambda: offset_reached(infra, group, topic, handled[-1].offset + 1), timeout=20
            )
        finally:
            runner.stop()
            await asyncio.wait_for(task, 15)
        assert await widget_count(tenant) == 3

        marker = await kafka.produce(topic, wire(widget_event(tenant, "after", RunWidgetNamed)))
        first_seen = await first_record_for_group(infra, group, topic)

        assert first_seen.offset == marker.offset

    async def test_run_handles_records_produced_while_it_runs(
        self, make_runner: Any, kafka: Any, kafka_topics: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        runner = make_runner({"runs.widget.named": insert_widget})
        task = asyncio.create_task(runner.run())
        try:
            await kafka.produce(
                f"{kafka_topics}runs.events", wire(widget_event(tenant, "live", RunWidgetNamed))
            )

            async def handled() -> bool:
                return await widget_count(tenant, "live") == 1

            await wait_for(handled, timeout=20)
        finally:
            runner.stop()
            await asyncio.wait_for(task, 15)

    async def test_lag_and_last_poll_are_reported_while_running_and_lag_goes_when_it_stops(
        self, make_runner: Any, kafka: Any, kafka_topics: str, tenant: uuid.UUID, widget_count: Any
    ) -> None:
        topic = f"{kafka_topics}runs.events"
        runner = make_runner({"runs.widget.named": insert_widget})
        lag = {"service": runner.service, "consumer": runner.service, "topic": topic}
        polled = {"service": runner.service, "consumer": runner.service}
        task = asyncio.create_task(runner.run())
        try:
            await kafka.produce(topic, wire(widget_event(tenant, "lagged", RunWidgetNamed)))

            async def reported() -> bool:
                return sample("agencyos_kafka_consumer_lag", {**lag, "partition": "0"}) == 0

            await wait_for(reported, timeout=20)
            last_poll = sample("agencyos_kafka_consumer_last_poll_timestamp_seconds", polled)
            assert last_poll is not None
            assert time.time() - last_poll < 10
        finally:
            runner.stop()
            await asyncio.wait_for(task, 15)

        # A stopped consumer (or one whose partitions were revoked) reports no lag for them,
        # instead of its last value standing for a partition another process now consumes.
        assert sample("agencyos_kafka_consumer_lag", {**lag, "partition": "0"}) is None


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def committed_offset(infra: Infra, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


async def offset_reached(infra: Infra, group: str, topic: str, wanted: int) -> bool:
    return (await committed_offset(infra, group, topic) or 0) >= wanted


async def first_record_for_group(infra: Infra, group: str, topic: str) -> Record:
    """What a new consumer of `group` reads first (from the group's committed offset)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        return await asyncio.wait_for(consumer.getone(tp), 10)
    finally:
        await consumer.stop()


class _StopRaisesItsOwnCancellation:
    """What aiokafka's `stop()` does when the broker went away mid-fetch: the fetch task it
    cancelled itself lets its CancelledError out of `stop()`."""

    async def stop(self) -> None:
        raise asyncio.CancelledError


class TestStoppingAConsumerAfterKafkaTrouble:
    async def test_a_cancellation_from_inside_stop_does_not_end_the_worker(self) -> None:

        async def worker() -> str:
            await stop_consumer(_StopRaisesItsOwnCancellation())  # type: ignore[arg-type]
            return "went on"

        assert await asyncio.create_task(worker()) == "went on"

    async def test_the_worker_s_own_cancellation_still_ends_it(self) -> None:

        started = asyncio.Event()

        class SlowStop:
            async def stop(self) -> None:
                started.set()
                await asyncio.sleep(10)

        task = asyncio.create_task(stop_consumer(SlowStop()))  # type: ignore[arg-type]
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
