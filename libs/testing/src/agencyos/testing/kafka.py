"""Reading and writing the run's real Kafka topics from tests: tail a topic from its first
offset until a condition holds, and produce raw messages or CloudEvents onto it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from agencyos.common.events import CloudEvent

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


async def read_topic(
    bootstrap: str,
    topic: str,
    until: Callable[[list[Record]], bool],
    *,
    timeout: float = 20.0,
) -> list[Record]:
    """Every record of `topic` from the beginning (all partitions, no consumer group), read
    until `until(records so far)` holds; fails the test if it does not within `timeout`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[Record] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(records):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(
                    f"{topic}: condition not met within {timeout}s ({len(records)} records read)"
                )
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def read_to_end(bootstrap: str, topic: str) -> list[Record]:
    """Every record `topic` holds now: each partition read from its first offset up to its
    end offset at the call (for asserting what is not there)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
    if not partitions:
        raise AssertionError(f"{topic}: no such topic")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Record] = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                batches = await consumer.getmany(tp, timeout_ms=1000)
                records.extend(r for r in batches.get(tp, []) if r.offset < ends[tp])
        return records
    finally:
        await consumer.stop()


def event_of(record: Record) -> dict[str, Any] | None:
    """The record's CloudEvent as a dict, or None when the value is not a JSON object."""
    try:
        value = json.loads(record.value)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def events_where(records: list[Record], **match: Any) -> list[dict[str, Any]]:
    """The decoded events whose top-level fields equal `match` (e.g. type=..., tenantid=...)."""
    out = []
    for record in records:
        event = event_of(record)
        if event is not None and all(event.get(k) == v for k, v in match.items()):
            out.append(event)
    return out


class TopicWriter:
    """A started idempotent producer; `send_event` writes a CloudEvent the way the outbox
    relay does (JSON value, tenant id as key)."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def send(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        partition: int | None = None,
    ) -> int:
        """Write one record (a None value is a tombstone); returns the partition it went to."""
        metadata = await self.producer.send_and_wait(
            topic, value=value, key=key, partition=partition
        )
        return int(metadata.partition)

    async def send_event(self, topic: str, event: CloudEvent) -> int:
        return await self.send(
            topic,
            event.model_dump_json(exclude_none=True).encode(),
            key=str(event.tenantid).encode(),
        )


@asynccontextmanager
async def topic_writer(bootstrap: str) -> AsyncIterator[TopicWriter]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        yield TopicWriter(producer)
    finally:
        await producer.stop()
