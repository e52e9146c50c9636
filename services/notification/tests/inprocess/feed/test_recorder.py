"""The feed recorder: each agency's events in a gapless `seq` however many recorders run at
once, an event recorded once however often it is delivered (and published again on each
delivery), a task's client taken from its project, and types the feed does not keep never
recorded. Against the real database, and the real Kafka where the loop is under test."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import event

from agencyos.common.db import Database
from agencyos.common.events import CloudEvent
from agencyos.notification.feed.recorder import FEED_TOPIC, Consumed, FeedRecorder
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.kafka import read_to_end, read_topic

from .events import (
    invoice_sent,
    notice_created,
    password_reset,
    project_created,
    project_of,
    task_created,
)


async def feed_rows(in_process: InProcess, agency: Agency) -> list[dict[str, Any]]:
    service = await in_process.service("notification")
    rows = await service.rows(
        "SELECT seq, event_id, type, project_id, client_id, person_id, personal, "
        "client_visible, envelope FROM feed_events ORDER BY seq",
        tenant_id=agency.id,
    )
    return [dict(row) for row in rows]


async def record(recorder: FeedRecorder, *events: CloudEvent) -> list[FeedEntry]:
    entries = await recorder.record([Consumed(event) for event in events])
    assert entries is not None
    return entries


def agency_events(agency: Agency, count: int) -> list[CloudEvent]:
    project = project_created(agency, client_id=uuid.uuid4())
    return [project] + [
        task_created(agency, project_of(project), title=f"Task {n}") for n in range(count - 1)
    ]


class TestGaplessSequence:
    async def test_two_recorders_of_the_same_events_give_each_agency_one_gapless_sequence(
        self,
        in_process: InProcess,
        feed_db: Database,
        infra: Infra,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        events = agency_events(tenant, 30) + agency_events(other_tenant, 30)
        first = FeedRecorder(feed_db, infra.kafka_bootstrap, retry_backoff_seconds=0.01)
        second = FeedRecorder(feed_db, infra.kafka_bootstrap, retry_backoff_seconds=0.01)

        async def run(recorder: FeedRecorder, chunk: int) -> None:
            for start in range(0, len(events), chunk):
                await record(recorder, *events[start : start + chunk])

        await asyncio.gather(run(first, 7), run(second, 5))

        for agency in (tenant, other_tenant):
            rows = await feed_rows(in_process, agency)
            assert [row["seq"] for row in rows] == list(range(1, 31))
            mine = [e.id for e in events if e.tenantid == agency.id]
            assert sorted(row["event_id"] for row in rows) == sorted(mine)

    async def test_concurrent_recordings_of_different_events_leave_no_hole(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        project = project_created(tenant)
        await record(recorder, project)
        batches = [[task_created(tenant, project_of(project)) for _ in range(3)] for _ in range(12)]

        await asyncio.gather(*(record(recorder, *batch) for batch in batches))

        rows = await feed_rows(in_process, tenant)
        assert [row["seq"] for row in rows] == list(range(1, 38))
        for batch in batches:
            seqs = [next(r["seq"] for r in rows if r["event_id"] == e.id) for e in batch]
            assert seqs == sorted(seqs), "one batch's events keep their order"


def round_robin(*streams: list[CloudEvent]) -> list[CloudEvent]:
    """The streams' events interleaved, one of each in turn (as a fetched batch mixes
    agencies), each stream's own order kept."""
    mixed: list[CloudEvent] = []
    for n in range(max(len(stream) for stream in streams)):
        mixed.extend(stream[n] for stream in streams if n < len(stream))
    return mixed


@pytest.fixture
async def counted(feed_db: Database) -> AsyncIterator[tuple[Database, dict[str, int]]]:
    """A database of its own on notification's (so nothing else's transactions are counted)
    and the transactions committed and rolled back on it."""
    db = Database(feed_db.engine.url.render_as_string(hide_password=False))
    counts = {"commit": 0, "rollback": 0}

    def on_commit(_conn: Any) -> None:
        counts["commit"] += 1

    def on_rollback(_conn: Any) -> None:
        counts["rollback"] += 1

    event.listen(db.engine.sync_engine, "commit", on_commit)
    event.listen(db.engine.sync_engine, "rollback", on_rollback)
    try:
        yield db, counts
    finally:
        await db.dispose()


class TestOneTransactionPerBatch:
    async def test_a_batch_of_many_agencies_is_recorded_in_one_transaction_each_under_its_own(
        self,
        in_process: InProcess,
        infra: Infra,
        counted: tuple[Database, dict[str, int]],
    ) -> None:
        db, counts = counted
        agencies = [in_process.agency() for _ in range(8)]
        streams = [agency_events(agency, 6) for agency in agencies]
        # The last agency's task names the first agency's project (same id, recorded earlier
        # in the same transaction): under its own tenant that project is unknown to it.
        first_project, last = streams[0][0], agencies[-1]
        stranger = task_created(last, project_of(first_project))
        streams[-1].append(stranger)
        recorder = FeedRecorder(db, infra.kafka_bootstrap, retry_backoff_seconds=0.01)

        entries = await record(recorder, *round_robin(*streams))

        assert counts == {"commit": 1, "rollback": 0}
        assert len(entries) == sum(len(stream) for stream in streams)
        for agency, stream in zip(agencies, streams, strict=True):
            rows = await feed_rows(in_process, agency)
            assert [row["event_id"] for row in rows] == [e.id for e in stream]
            assert [row["seq"] for row in rows] == list(range(1, len(stream) + 1))
            assert {
                (json.loads(r["envelope"]) if isinstance(r["envelope"], str) else r["envelope"])[
                    "tenantid"
                ]
                for r in rows
            } == {str(agency.id)}
            mine = [e for e in entries if e.tenant_id == agency.id]
            assert [(e.event_id, e.seq) for e in mine] == [
                (row["event_id"], row["seq"]) for row in rows
            ]
        assert (await feed_rows(in_process, agencies[0]))[1]["client_id"] is not None
        assert (await feed_rows(in_process, last))[-1]["client_id"] is None

    async def test_a_poison_event_in_a_batch_of_many_agencies_holds_back_none_of_the_others(
        self,
        in_process: InProcess,
        infra: Infra,
        counted: tuple[Database, dict[str, int]],
    ) -> None:
        db, counts = counted
        agencies = [in_process.agency() for _ in range(5)]
        streams = [agency_events(agency, 4) for agency in agencies]
        bad = poisoned(agencies[2])
        streams[2].insert(2, bad)
        recorder = FeedRecorder(db, infra.kafka_bootstrap, retry_backoff_seconds=0.01)

        entries = await record(recorder, *round_robin(*streams))

        assert counts["rollback"] >= 1, "the batch's one transaction failed first"
        assert bad.id not in {e.event_id for e in entries}
        for agency, stream in zip(agencies, streams, strict=True):
            good = [e.id for e in stream if e.id != bad.id]
            rows = await feed_rows(in_process, agency)
            assert [row["event_id"] for row in rows] == good
            assert [row["seq"] for row in rows] == list(range(1, len(good) + 1))


class TestRedelivery:
    async def test_an_event_recorded_again_keeps_its_seq_and_is_answered_again(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        project = project_created(tenant)
        task = task_created(tenant, project_of(project))
        later = task_created(tenant, project_of(project))
        first = await record(recorder, project, task)

        again = await record(recorder, task, later)

        assert [(e.event_id, e.seq) for e in first] == [(project.id, 1), (task.id, 2)]
        assert [(e.event_id, e.seq) for e in again] == [(task.id, 2), (later.id, 3)]
        assert len(await feed_rows(in_process, tenant)) == 3


class TestProjectClient:
    async def test_a_task_takes_the_client_of_a_project_created_in_the_same_batch(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        client_id = uuid.uuid4()
        project = project_created(tenant, client_id=client_id)
        task = task_created(tenant, project_of(project), visible_to_client=True)

        await record(recorder, project, task)

        [_, row] = await feed_rows(in_process, tenant)
        assert (row["project_id"], row["client_id"], row["client_visible"]) == (
            project_of(project),
            client_id,
            True,
        )

    async def test_a_task_takes_the_client_of_a_project_recorded_before(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        client_id = uuid.uuid4()
        project = project_created(tenant, client_id=client_id)
        await record(recorder, project)

        await record(recorder, task_created(tenant, project_of(project)))

        assert (await feed_rows(in_process, tenant))[1]["client_id"] == client_id

    async def test_an_internal_task_has_its_client_but_is_not_client_visible(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        client_id = uuid.uuid4()
        project = project_created(tenant, client_id=client_id)

        await record(
            recorder, project, task_created(tenant, project_of(project), visible_to_client=False)
        )

        row = (await feed_rows(in_process, tenant))[1]
        assert (row["client_id"], row["client_visible"]) == (client_id, False)

    async def test_a_task_of_an_unknown_project_has_no_client(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        await record(recorder, task_created(tenant, uuid.uuid4()))

        [row] = await feed_rows(in_process, tenant)
        assert (row["client_id"], row["client_visible"]) == (None, False)


def poisoned(agency: Agency) -> CloudEvent:
    """A project event the database refuses (a status longer than its column): it can never
    be recorded, however often it is tried."""
    event = project_created(agency)
    data = dict(event.data)
    data["project"] = dict(data["project"]) | {"status": "x" * 40}
    return event.model_copy(update={"data": data})


class TestAnEventThatCannotBeRecorded:
    async def test_it_alone_is_set_aside_and_the_others_are_recorded_without_a_hole(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        project = project_created(tenant)
        task = task_created(tenant, project_of(project))
        bad = poisoned(tenant)

        entries = await record(recorder, project, bad, task)

        assert [(e.event_id, e.seq) for e in entries] == [(project.id, 1), (task.id, 2)]
        assert [r["event_id"] for r in await feed_rows(in_process, tenant)] == [
            project.id,
            task.id,
        ]


class TestWhatIsKept:
    async def test_a_token_carrying_event_is_never_recorded(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        entries = await record(recorder, password_reset(tenant, tenant.owner))

        assert entries == []
        assert await feed_rows(in_process, tenant) == []

    async def test_who_reads_each_entry_is_recorded_with_it(
        self, in_process: InProcess, recorder: FeedRecorder, tenant: Agency
    ) -> None:
        member, client_id = tenant.caller("member"), uuid.uuid4()

        await record(
            recorder,
            invoice_sent(tenant, client_id),
            notice_created(tenant, member),
            password_reset(tenant, member),
        )

        rows = await feed_rows(in_process, tenant)
        assert [
            (r["type"], r["client_id"], r["person_id"], r["personal"], r["client_visible"])
            for r in rows
        ] == [
            ("billing.invoice.sent", client_id, None, False, True),
            ("notification.notice.created", None, member.user_id, True, False),
        ]
        envelope = rows[0]["envelope"]
        envelope = json.loads(envelope) if isinstance(envelope, str) else envelope
        assert envelope["type"] == "billing.invoice.sent"
        assert envelope["tenantid"] == str(tenant.id)


async def produce(infra: Infra, topic: str, *values: bytes, key: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


def encoded(event: CloudEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def messages(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(record.value) for record in records]


class TestTheLoop:
    @pytest.fixture
    def running(self, feed_db: Database, infra: Infra, topic_prefix: str) -> Any:
        async def start(group: str) -> tuple[FeedRecorder, asyncio.Task[None]]:
            recorder = FeedRecorder(
                feed_db,
                infra.kafka_bootstrap,
                topic_prefix=topic_prefix,
                group_id=f"{topic_prefix}{group}",
                retry_backoff_seconds=0.01,
            )
            return recorder, asyncio.create_task(recorder.run())

        return start

    async def test_events_are_recorded_and_published_and_a_redelivery_publishes_them_again(
        self,
        in_process: InProcess,
        infra: Infra,
        topic_prefix: str,
        running: Any,
        tenant: Agency,
    ) -> None:
        project = project_created(tenant, client_id=uuid.uuid4())
        task = task_created(tenant, project_of(project))
        key = str(tenant.id).encode()
        await produce(
            infra,
            f"{topic_prefix}work.events",
            b"not an event",
            encoded(project),
            encoded(task),
            key=key,
        )
        await produce(
            infra,
            f"{topic_prefix}identity.events",
            encoded(password_reset(tenant, tenant.owner)),
            key=key,
        )
        feed_topic = topic_prefix + FEED_TOPIC

        recorder, task_ = await running("first")
        try:
            records = await read_topic(
                infra.kafka_bootstrap, feed_topic, lambda got: len(got) >= 2, timeout=40
            )
        finally:
            recorder.stop()
            await task_
        published = messages(records)
        assert [(m["seq"], m["event_id"]) for m in published] == [
            (1, str(project.id)),
            (2, str(task.id)),
        ]
        assert all(m["tenant_id"] == str(tenant.id) for m in published)
        assert FeedEntry.from_message(published[1]).client_id is not None
        assert all(record.key == key for record in records)

        # A group that has not committed (a redelivery) reads them all again: same seqs,
        # published again, recorded once.
        again, again_task = await running("second")
        try:
            records = await read_topic(
                infra.kafka_bootstrap, feed_topic, lambda got: len(got) >= 4, timeout=40
            )
        finally:
            again.stop()
            await again_task
        assert [(m["seq"], m["event_id"]) for m in messages(records)[2:]] == [
            (1, str(project.id)),
            (2, str(task.id)),
        ]
        assert len(await feed_rows(in_process, tenant)) == 2

    async def test_an_event_that_cannot_be_recorded_goes_to_its_dead_letter_topic(
        self,
        in_process: InProcess,
        infra: Infra,
        topic_prefix: str,
        running: Any,
        tenant: Agency,
    ) -> None:
        project, bad = project_created(tenant), poisoned(tenant)
        task = task_created(tenant, project_of(project))
        key = str(tenant.id).encode()
        await produce(
            infra,
            f"{topic_prefix}work.events",
            encoded(project),
            encoded(bad),
            encoded(task),
            key=key,
        )

        recorder, task_ = await running("poison")
        try:
            records = await read_topic(
                infra.kafka_bootstrap, topic_prefix + FEED_TOPIC, lambda got: len(got) >= 2
            )
            [dead] = await read_topic(
                infra.kafka_bootstrap, f"{topic_prefix}work.events.dlq", lambda got: len(got) >= 1
            )
        finally:
            recorder.stop()
            await task_

        assert [m["event_id"] for m in messages(records)] == [str(project.id), str(task.id)]
        assert json.loads(dead.value)["id"] == str(bad.id)
        headers = dict(dead.headers)
        assert headers["x-agencyos-consumer"] == b"notification-feed"
        assert b"value too long" in headers["x-agencyos-error"], headers["x-agencyos-error"]

    async def test_a_stopped_recorder_resumes_after_what_it_committed(
        self,
        in_process: InProcess,
        infra: Infra,
        topic_prefix: str,
        running: Any,
        tenant: Agency,
    ) -> None:
        project = project_created(tenant)
        key = str(tenant.id).encode()
        feed_topic = topic_prefix + FEED_TOPIC
        await produce(infra, f"{topic_prefix}work.events", encoded(project), key=key)
        recorder, task_ = await running("resume")
        try:
            await read_topic(infra.kafka_bootstrap, feed_topic, lambda got: len(got) >= 1)
        finally:
            recorder.stop()
            await task_

        later = task_created(tenant, project_of(project))
        await produce(infra, f"{topic_prefix}work.events", encoded(later), key=key)
        recorder, task_ = await running("resume")
        try:
            await read_topic(
                infra.kafka_bootstrap, feed_topic, lambda got: len(got) >= 2, timeout=40
            )
        finally:
            recorder.stop()
            await task_

        # the project, committed by the first run, is not published again
        records = await read_to_end(infra.kafka_bootstrap, feed_topic)
        assert [m["seq"] for m in messages(records)] == [1, 2]
