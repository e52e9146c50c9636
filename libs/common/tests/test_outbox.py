"""Transactional outbox against the real PostgreSQL and Kafka: an event leaves only with the
transaction that wrote it, and Kafka being unreachable delays events, never loses them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from agencyos.common import outbox as outbox_module
from agencyos.common.db import RELAY_SETTING, Database
from agencyos.common.events import CloudEvent, EventPayload
from agencyos.common.outbox import OutboxRelay, new_producer, publish
from agencyos.testing.infra import Infra, wait_for

SERVICE = "outbox"


def kafka_reachable_gauge() -> float | None:
    return REGISTRY.get_sample_value("agencyos_kafka_reachable", {"service": SERVICE})


class WidgetNamed(EventPayload):
    """A test-only event of the made-up `outbox` service (topic `outbox.events`)."""

    event_type: ClassVar[str] = "outbox.widget.named"
    widget_id: uuid.UUID
    name: str


async def publish_widget_event(
    db: Database, tenant_id: uuid.UUID, name: str = "w", *, fail: bool = False
) -> CloudEvent:
    """Write a widget and its event in one transaction; `fail` rolls the transaction back."""

    class Rollback(Exception):
        pass

    widget_id = uuid.uuid4()
    event: CloudEvent | None = None
    try:
        async with db.transaction(tenant_id) as session:
            await session.execute(
                text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, :name)"),
                {"t": tenant_id, "id": widget_id, "name": name},
            )
            event = await publish(
                session,
                WidgetNamed(widget_id=widget_id, name=name),
                source_service=SERVICE,
                subject=f"widgets/{widget_id}",
            )
            if fail:
                raise Rollback
    except Rollback:
        pass
    assert event is not None
    return event


async def outbox_rows(db: Database, event_ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    """The outbox rows of `event_ids`, seen the way the relay sees them (all tenants)."""
    async with db.transaction(None, settings={RELAY_SETTING: "on"}) as session:
        rows = (
            await session.execute(
                text("SELECT * FROM outbox WHERE event_id = ANY(:ids)"), {"ids": event_ids}
            )
        ).all()
    return {row.event_id: row for row in rows}


async def published_records(kafka: Any, topic: str) -> dict[str, Any]:
    """The records on `topic`, by the CloudEvent id they carry."""
    return {json.loads(r.value)["id"]: r for r in await kafka.read_all(topic)}


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    started = new_producer(infra.kafka_bootstrap, "agencyos-test-relay")
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
def relay(db: Database, infra: Infra, kafka_topics: str) -> OutboxRelay:
    return OutboxRelay(
        SERVICE, db, infra.kafka_bootstrap, poll_seconds=0.05, topic_prefix=kafka_topics
    )


@pytest.fixture
def topic(kafka_topics: str) -> str:
    return f"{kafka_topics}{SERVICE}.events"


class TestWritingEvents:
    async def test_an_event_is_written_with_the_transactions_tenant(
        self, db: Database, tenant: uuid.UUID
    ) -> None:
        event = await publish_widget_event(db, tenant)

        rows = await outbox_rows(db, [event.id])

        assert rows[event.id].tenant_id == tenant
        assert rows[event.id].topic == "outbox.events"
        assert rows[event.id].published_at is None

    async def test_an_event_of_a_rolled_back_transaction_is_not_in_the_outbox(
        self, db: Database, tenant: uuid.UUID
    ) -> None:
        event = await publish_widget_event(db, tenant, fail=True)

        assert await outbox_rows(db, [event.id]) == {}

    async def test_publishing_without_a_tenant_is_refused(self, db: Database) -> None:
        async with db.transaction(None) as session:
            with pytest.raises(RuntimeError, match="needs a tenant"):
                await publish(
                    session,
                    WidgetNamed(widget_id=uuid.uuid4(), name="w"),
                    source_service=SERVICE,
                )

    async def test_an_event_for_another_tenant_cannot_be_written_under_this_one(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        with pytest.raises(DBAPIError, match="row-level security"):
            async with db.transaction(tenant) as session:
                await publish(
                    session,
                    WidgetNamed(widget_id=uuid.uuid4(), name="w"),
                    source_service=SERVICE,
                    tenant_id=other_tenant,
                )


class TestOutboxVisibility:
    async def test_a_transaction_with_no_tenant_sees_no_outbox_rows(
        self, db: Database, tenant: uuid.UUID
    ) -> None:
        event = await publish_widget_event(db, tenant)

        async with db.transaction(None) as session:
            seen = (
                await session.execute(
                    text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": event.id}
                )
            ).scalar()

        assert seen == 0

    async def test_another_tenant_sees_no_outbox_rows_of_this_one(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        event = await publish_widget_event(db, tenant)

        async with db.transaction(other_tenant) as session:
            seen = (
                await session.execute(
                    text("SELECT count(*) FROM outbox WHERE event_id = :id"), {"id": event.id}
                )
            ).scalar()

        assert seen == 0

    async def test_the_relay_flag_sees_every_tenants_rows(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        ours = await publish_widget_event(db, tenant)
        theirs = await publish_widget_event(db, other_tenant)

        rows = await outbox_rows(db, [ours.id, theirs.id])

        assert {row.tenant_id for row in rows.values()} == {tenant, other_tenant}


class TestRelayPublishing:
    async def test_an_event_whose_transaction_rolled_back_is_never_sent(
        self,
        db: Database,
        relay: OutboxRelay,
        producer: AIOKafkaProducer,
        kafka: Any,
        topic: str,
        tenant: uuid.UUID,
    ) -> None:
        rolled_back = await publish_widget_event(db, tenant, "lost", fail=True)
        committed = await publish_widget_event(db, tenant, "kept")

        await relay.publish_batch(producer)

        records = await published_records(kafka, topic)
        assert str(committed.id) in records
        assert str(rolled_back.id) not in records

    async def test_a_committed_event_is_sent_as_cloudevents_json_keyed_by_tenant(
        self,
        db: Database,
        relay: OutboxRelay,
        producer: AIOKafkaProducer,
        kafka: Any,
        topic: str,
        tenant: uuid.UUID,
    ) -> None:
        event = await publish_widget_event(db, tenant, "sent")

        await relay.publish_batch(producer)

        record = (await published_records(kafka, topic))[str(event.id)]
        assert record.key == str(tenant).encode()
        received = CloudEvent.model_validate_json(record.value)
        assert received.specversion == "1.0"
        assert (received.type, received.tenantid, received.source) == (
            "outbox.widget.named",
            tenant,
            "/agencyos/outbox",
        )
        assert received.payload(WidgetNamed).name == "sent"

    async def test_a_sent_event_is_marked_published(
        self, db: Database, relay: OutboxRelay, producer: AIOKafkaProducer, tenant: uuid.UUID
    ) -> None:
        event = await publish_widget_event(db, tenant)

        sent = await relay.publish_batch(producer)

        assert sent >= 1
        assert (await outbox_rows(db, [event.id]))[event.id].published_at is not None

    async def test_a_published_event_is_not_sent_again(
        self,
        db: Database,
        relay: OutboxRelay,
        producer: AIOKafkaProducer,
        kafka: Any,
        topic: str,
        tenant: uuid.UUID,
    ) -> None:
        event = await publish_widget_event(db, tenant)
        await relay.publish_batch(producer)

        again = await relay.publish_batch(producer)

        assert again == 0
        ids = [json.loads(r.value)["id"] for r in await kafka.read_all(topic)]
        assert ids.count(str(event.id)) == 1

    async def test_one_tenants_events_are_sent_in_the_order_they_were_written(
        self,
        db: Database,
        relay: OutboxRelay,
        producer: AIOKafkaProducer,
        kafka: Any,
        topic: str,
        tenant: uuid.UUID,
    ) -> None:
        written = [await publish_widget_event(db, tenant, f"n{i}") for i in range(5)]

        await relay.publish_batch(producer)

        ids = [json.loads(r.value)["id"] for r in await kafka.read_all(topic)]
        assert [i for i in ids if i in {str(e.id) for e in written}] == [str(e.id) for e in written]


class LogRecorder:
    """Stands in for the relay's structlog logger to observe its failed cycles."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, message: str, **_: Any) -> None:
        self.warnings.append(message)

    def info(self, message: str, **_: Any) -> None:
        pass

    def exception(self, message: str, **_: Any) -> None:
        self.warnings.append(message)


async def run_until(relay: OutboxRelay, condition: Any) -> None:
    """Run `relay` until `condition` holds, then stop it and wait for it to finish."""
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(condition)
    finally:
        relay.stop()
        await asyncio.wait_for(task, 15)


class TestKafkaUnreachable:
    async def test_events_stay_unpublished_while_kafka_is_down_and_are_sent_once_it_is_back(
        self,
        db: Database,
        infra: Infra,
        kafka: Any,
        kafka_topics: str,
        topic: str,
        tenant: uuid.UUID,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        log = LogRecorder()
        monkeypatch.setattr(outbox_module, "log", log)
        events = [await publish_widget_event(db, tenant, f"queued{i}") for i in range(2)]
        ids = [e.id for e in events]

        stranded = OutboxRelay(
            SERVICE, db, "127.0.0.1:1", poll_seconds=0.02, topic_prefix=kafka_topics
        )
        await run_until(stranded, lambda: "outbox relay cannot reach kafka" in log.warnings)

        assert [row.published_at for row in (await outbox_rows(db, ids)).values()] == [None, None]
        assert kafka_reachable_gauge() == 0

        async def all_published() -> bool:
            rows = await outbox_rows(db, ids)
            return all(row.published_at is not None for row in rows.values())

        healthy = OutboxRelay(
            SERVICE, db, infra.kafka_bootstrap, poll_seconds=0.02, topic_prefix=kafka_topics
        )
        await run_until(healthy, all_published)

        records = await published_records(kafka, topic)
        assert {str(i) for i in ids} <= records.keys()
        assert kafka_reachable_gauge() == 1

    async def test_a_relay_keeps_retrying_a_broker_that_hangs_up_and_publishes_nothing(
        self, db: Database, kafka_topics: str, tenant: uuid.UUID
    ) -> None:
        attempts = 0

        async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal attempts
            attempts += 1
            writer.close()

        dead_broker = await asyncio.start_server(hang_up, "127.0.0.1", 0)
        port = dead_broker.sockets[0].getsockname()[1]
        event = await publish_widget_event(db, tenant)
        try:
            relay = OutboxRelay(
                SERVICE, db, f"127.0.0.1:{port}", poll_seconds=0.02, topic_prefix=kafka_topics
            )
            await run_until(relay, lambda: attempts >= 3)
        finally:
            dead_broker.close()
            await dead_broker.wait_closed()

        assert (await outbox_rows(db, [event.id]))[event.id].published_at is None
