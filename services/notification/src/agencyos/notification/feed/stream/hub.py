"""One Kafka consumer per process on the feed topic, fanning entries out to the open
connections of their agency.

No consumer group and no committed offsets: the hub reads every partition from its end as of
when it starts (history comes from the database; `Connection` fills any gap from there). It
only ever `put_nowait`s into a connection's queue, so a slow reader never holds up the hub or
anyone else.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from agencyos.common.logs import get_logger
from agencyos.common.web import Lifespan, on_drain
from agencyos.notification.feed.stream import frames
from agencyos.notification.feed.stream.connection import Connection
from agencyos.notification.feed.stream.metrics import STREAM_HUB_ENTRIES, STREAMS_OPEN
from agencyos.notification.feed.stream.replay import RecentEntries
from agencyos.notification.feed.visibility import FeedEntry

log = get_logger(__name__)


class HubUnavailable(RuntimeError):
    """The hub cannot read the feed topic (Kafka down, or the topic missing)."""


class CatchUpBusy(RuntimeError):
    """No turn at the database came within the wait (too many streams opening at once)."""


class StreamHub:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        start_timeout: float = 10.0,
        replay_entries: int = 1000,
        replay_max_age: float = 3600.0,
        catch_up_concurrency: int = 8,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.start_timeout = start_timeout
        self._connections: dict[uuid.UUID, set[Connection]] = {}
        # Per agency, the newest entries dispatched, as one run of consecutive seqs: a resume
        # from inside it needs no database read (see `replay`).
        self.replay_entries = replay_entries
        self.replay_max_age = replay_max_age
        self._recent: dict[uuid.UUID, RecentEntries] = {}
        # The database reads of opening and catching up streams, at most this many at once in
        # the process: a reconnect storm waits here, not on the connection pool.
        self.catch_up = asyncio.Semaphore(catch_up_concurrency)
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.draining = False
        # The frames of recent entries, encoded once per shape for all connections.
        self.frames = frames.FrameCache()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start reading (once): on return, every partition's position is fixed at its end,
        so anything published from now on reaches the connections registered."""
        if self.draining:
            raise HubUnavailable("shutting down")
        async with self._lock:
            if self.running:
                return
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                group_id=None,
                enable_auto_commit=False,
            )
            try:
                await asyncio.wait_for(self._position(consumer), self.start_timeout)
            except BaseException as exc:
                await consumer.stop()
                if isinstance(exc, asyncio.CancelledError):
                    raise
                raise HubUnavailable(f"cannot read {self.topic}: {exc!r}") from exc
            self._consumer = consumer
            self._task = asyncio.create_task(self._run(consumer), name="stream-hub")
            log.info("stream hub reading", topic=self.topic)

    async def _partitions(self) -> list[int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        ids = [
            p["partition"]
            for d in described
            if d.get("error_code", 0) == 0
            for p in d["partitions"]
        ]
        if not ids:
            raise HubUnavailable(f"no such topic: {self.topic}")
        return sorted(ids)

    async def _position(self, consumer: AIOKafkaConsumer) -> None:
        ids = await self._partitions()
        await consumer.start()
        assigned = [TopicPartition(self.topic, p) for p in ids]
        consumer.assign(assigned)
        await consumer.seek_to_end(*assigned)
        for tp in assigned:
            await consumer.position(tp)  # resolves the end offset now, not on first fetch

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=1000, max_records=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("stream hub read failed")
                await asyncio.sleep(1.0)
                continue
            for records in batches.values():
                for record in records:
                    STREAM_HUB_ENTRIES.inc()
                    try:
                        entry = FeedEntry.from_message(json.loads(record.value or b""))
                    except (ValueError, KeyError, TypeError):
                        log.warning(
                            "stream hub: unreadable feed message",
                            partition=record.partition,
                            offset=record.offset,
                        )
                        continue
                    self.dispatch(entry)
                    # Let the connections take it before the next one: a batch is not a burst
                    # each of their queues must hold at once.
                    await asyncio.sleep(0)

    def dispatch(self, entry: FeedEntry) -> None:
        self._remember(entry)
        for connection in tuple(self._connections.get(entry.tenant_id, ())):
            connection.offer(entry)

    def _remember(self, entry: FeedEntry) -> None:
        if self.replay_entries <= 0:
            return
        recent = self._recent.get(entry.tenant_id)
        if recent is None:
            recent = self._recent[entry.tenant_id] = RecentEntries(
                self.replay_entries, self.replay_max_age
            )
        recent.add(entry)

    def holds(self, tenant_id: uuid.UUID, after_seq: int) -> bool:
        """Whether memory holds every entry of the agency after `after_seq` (see `replay`)."""
        recent = self._recent.get(tenant_id)
        return recent is not None and recent.holds(after_seq)

    def replay(self, tenant_id: uuid.UUID, after_seq: int) -> list[FeedEntry] | None:
        """The agency's entries after `after_seq` through the newest dispatched, when memory
        holds all of them (`RecentEntries`); else None.

        Taken in the same event-loop step as `register`, the two leave no gap: every entry
        dispatched later is offered to the connection."""
        recent = self._recent.get(tenant_id)
        return None if recent is None else recent.after(after_seq)

    @asynccontextmanager
    async def catch_up_turn(self, wait: float) -> AsyncIterator[None]:
        """One of the process's `catch_up_concurrency` turns at the database, waited for at
        most `wait` seconds (else `CatchUpBusy`)."""
        try:
            async with asyncio.timeout(wait):
                await self.catch_up.acquire()
        except TimeoutError as exc:
            raise CatchUpBusy(f"no database turn within {wait} s") from exc
        try:
            yield
        finally:
            self.catch_up.release()

    def register(self, connection: Connection) -> None:
        self._connections.setdefault(connection.tenant_id, set()).add(connection)
        STREAMS_OPEN.inc()

    def unregister(self, connection: Connection) -> None:
        tenant = self._connections.get(connection.tenant_id)
        if tenant is None or connection not in tenant:
            return
        tenant.discard(connection)
        if not tenant:
            del self._connections[connection.tenant_id]
        STREAMS_OPEN.dec()

    @property
    def open_connections(self) -> int:
        return sum(len(c) for c in self._connections.values())

    def drain(self) -> None:
        """The process is shutting down: every stream ends now (`shutdown`), and no new one
        starts; clients reconnect (elsewhere, or here once restarted) with their last id."""
        self.draining = True
        for tenant in tuple(self._connections.values()):
            for connection in tuple(tenant):
                connection.close(frames.SHUTDOWN)

    async def stop(self) -> None:
        """Close every connection (`shutdown`: clients reconnect with their last id) and stop
        reading."""
        self.drain()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()


def stream_lifespan(
    bootstrap: str,
    topic: str,
    *,
    replay_entries: int = 1000,
    replay_max_age: float = 3600.0,
    catch_up_concurrency: int = 8,
) -> Lifespan:
    """For `create_app(lifespans=...)`: the app's hub (`app.state.stream_hub`), started on
    the first stream (see `StreamHub.start`), stopped with the app."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hub = install_hub(
            app,
            bootstrap,
            topic,
            replay_entries=replay_entries,
            replay_max_age=replay_max_age,
            catch_up_concurrency=catch_up_concurrency,
        )
        on_drain(app, hub.drain)
        try:
            yield
        finally:
            await hub.stop()

    return lifespan


def install_hub(
    app: FastAPI,
    bootstrap: str,
    topic: str,
    *,
    replay_entries: int = 1000,
    replay_max_age: float = 3600.0,
    catch_up_concurrency: int = 8,
) -> StreamHub:
    """The app's hub, made when missing (apps run without their lifespan, as in-process tests
    do, get one on first use)."""
    hub = getattr(app.state, "stream_hub", None)
    if hub is None:
        hub = StreamHub(
            bootstrap,
            topic,
            replay_entries=replay_entries,
            replay_max_age=replay_max_age,
            catch_up_concurrency=catch_up_concurrency,
        )
        app.state.stream_hub = hub
    return hub
