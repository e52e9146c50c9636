"""`make bench` (third part): 5,000 SSE connections on one stream process, and a reconnect storm.

What it measures, on ONE `python -m agencyos.notification stream` process:

- steady state: N connections (default 50 agencies x 100 viewers = 5,000) open on
  `GET /v1/stream` while events are committed to work's outbox at a steady rate (default
  100/s, round-robin over the agencies): the stream process's RSS (VmRSS from /proc), its CPU,
  and the latency from the outbox commit to the event's arrival at each client (p50/p95/p99/max
  over every delivery);
- a reconnect storm: every connection is closed, events keep coming for a few seconds, then
  all of them reconnect with `Last-Event-ID` (spread over `--storm-window` s): how long each
  takes to catch up (to receive every event committed before it reconnected), and how long
  until all have.

Correctness is checked for every connection over the whole run: it received every event of its
own agency (from the first one it saw, a warm-up event, to the last one committed), each exactly
once and in cursor order, and nothing of another agency. That is what makes the exit status:
0 when it holds, 1 when it does not (or the run broke). The speed figures are compared with the
issue's targets (RSS < 1 GB, p99 < 500 ms) in the output, not asserted.

The path is the production one, as processes: events are inserted into work's `outbox` table as
`agencyos.common.outbox.publish` writes them (a `work.task.updated` CloudEvent, one transaction
each), work's relay (`python -m agencyos.work relay`) publishes them to Kafka, notification's
worker (`python -m agencyos.notification worker`: the feed recorder) records them and publishes
them to the feed topic, and the stream process fans them out. The run has its own databases
(`agencyos_bench_stream_<svc>`, migrated fresh) and Kafka topic prefix; access tokens are signed
by this script with test keys whose JWKS it serves itself (owners and managers, who see every
event of their agency). The client is this process: raw asyncio connections (no HTTP library),
an SSE parser, and a record of every delivery.

    .venv/bin/python bench/stream_fanout.py [--agencies 50] [--viewers 100] [--rate 100]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform as pyplatform
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import asyncpg
import httpx
import psutil
from aiokafka import AIOKafkaConsumer

from agencyos.common.events import TaskUpdated, build_event
from agencyos.common.services import EXTRA_TOPICS, SERVICES
from agencyos.notification.feed.cursor import InvalidCursor, decode
from agencyos.testing.infra import Infra, free_port
from agencyos.testing.keys import TestKeys, serve_jwks
from agencyos.testing.platform import redis_url

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
FEED_TOPIC = "notification.feed"
# The services whose databases the run makes: the stream's and the outbox's.
DATABASES = ("notification", "work")
# The processes: the one under test, the feed recorder, and the relay that publishes the outbox.
PROCESSES = {
    "stream": ["-m", "agencyos.notification", "stream"],
    "recorder": ["-m", "agencyos.notification", "worker"],
    "relay": ["-m", "agencyos.work", "relay"],
}
TOKEN_LIFETIME_SECONDS = 3600
TARGET_RSS_BYTES = 1 << 30
TARGET_P99_SECONDS = 0.5
SAMPLE_SECONDS = 0.5
# A client gives up on one attempt when the response head has not come by then (and tries
# again, up to 5 times, as EventSource would).
READY_TIMEOUT_SECONDS = 30.0


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(values: list[float], scale: float = 1000.0) -> dict[str, Any]:
    """count, p50/p95/p99/max (in ms by default) of `values` (seconds)."""
    ordered = sorted(values)

    def at(pct: float) -> float | None:
        value = percentile(ordered, pct)
        return None if value is None else round(value * scale, 1)

    return {
        "count": len(ordered),
        "p50": at(50),
        "p95": at(95),
        "p99": at(99),
        "max": None if not ordered else round(ordered[-1] * scale, 1),
    }


# --- the agencies, their viewers and their tokens --------------------------------------------


@dataclass
class Agency:
    index: int
    id: uuid.UUID
    owner_id: uuid.UUID
    project_id: uuid.UUID
    column_id: uuid.UUID
    task_ids: list[uuid.UUID]
    # Event ids committed to the outbox for this agency, in commit order.
    events: list[str] = field(default_factory=list)


def make_agencies(count: int, tasks: int = 5) -> list[Agency]:
    return [
        Agency(
            index=n,
            id=uuid.uuid4(),
            owner_id=uuid.uuid4(),
            project_id=uuid.uuid4(),
            column_id=uuid.uuid4(),
            task_ids=[uuid.uuid4() for _ in range(tasks)],
        )
        for n in range(count)
    ]


def mint_tokens(keys: TestKeys, agencies: list[Agency], viewers: int) -> list[tuple[int, str]]:
    """(agency index, access token) per viewer: each agency's owner, then managers."""
    expires = int(time.time()) + TOKEN_LIFETIME_SECONDS
    tokens: list[tuple[int, str]] = []
    for agency in agencies:
        for v in range(viewers):
            user = agency.owner_id if v == 0 else uuid.uuid4()
            role = "owner" if v == 0 else "manager"
            token = keys.mint(sub=str(user), tid=str(agency.id), role=role, exp=expires)
            tokens.append((agency.index, token))
    return tokens


# --- the processes ---------------------------------------------------------------------------


@dataclass
class Stack:
    """Fresh databases and topics, and the three processes, for one run."""

    infra: Infra
    log_dir: Path
    jwks_url: str
    relay_poll_seconds: float | None
    keep_databases: bool
    topic_prefix: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}.")
    db_prefix: str = "agencyos_bench_stream_"
    http_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def database(self, service: str) -> str:
        return f"{self.db_prefix}{service}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYOS_")}
        env.update(
            {
                "AGENCYOS_POSTGRES_HOST": self.infra.pg_host,
                "AGENCYOS_POSTGRES_PORT": str(self.infra.pg_port),
                "AGENCYOS_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
                "AGENCYOS_KAFKA_TOPIC_PREFIX": self.topic_prefix,
                "AGENCYOS_JWKS_URL": self.jwks_url,
                "AGENCYOS_LOG_JSON": "true",
                "AGENCYOS_SHUTDOWN_GRACE_SECONDS": "3",
                "AGENCYOS_REDIS_URL": redis_url(),
                "AGENCYOS_REVOCATION_NAMESPACE": f"bench-{uuid.uuid4().hex[:8]}",
                "AGENCYOS_NOTIFICATION_HTTP_PORT": str(self.http_port),
            }
        )
        if self.relay_poll_seconds is not None:
            env["AGENCYOS_RELAY_POLL_SECONDS"] = str(self.relay_poll_seconds)
        for service in DATABASES:
            env[f"AGENCYOS_{service.upper()}_DATABASE_NAME"] = self.database(service)
        return env

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        env = self.environment()
        # Every service's topics (the recorder reads them all) and the feed topic, as the
        # test platform makes them.
        topics = [f"{self.topic_prefix}{s}.events" for s in SERVICES]
        topics += [f"{t}.dlq" for t in topics]
        topics += [f"{self.topic_prefix}{t}" for t in EXTRA_TOPICS]
        await self.infra.create_topics(topics, partitions=3)
        for service in DATABASES:
            await self.infra.recreate_database(self.database(service))
        await asyncio.gather(*(self._migrate(s, env) for s in DATABASES))
        for name, command in PROCESSES.items():
            self.procs[name] = subprocess.Popen(
                [sys.executable, *command],
                env=env,
                cwd=REPO,
                stdout=(self.log_dir / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
                # Its own process group: a Ctrl-C at the terminal reaches this script alone,
                # which then stops them in order.
                start_new_session=True,
            )
        await self._wait_listening()

    async def _migrate(self, service: str, env: dict[str, str]) -> None:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            f"agencyos.{service}",
            "migrate",
            env=env,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"migrating {service} failed:\n{out.decode(errors='replace')}")

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 10) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        # JSON lines with tracebacks run long: the end of each is enough here.
        return "\n".join(line[-400:] for line in text.splitlines()[-lines:])

    async def _wait_listening(self, timeout: float = 120.0) -> None:
        """Until the stream process accepts connections (the others have no port: alive)."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.http_port)
                writer.close()
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the stream process is not listening after {timeout}s"
                    ) from exc
                await asyncio.sleep(0.2)

    def warnings(self) -> dict[str, int]:
        """How many warning/error lines each process logged."""
        counts: dict[str, int] = {}
        for name in self.procs:
            try:
                text = (self.log_dir / f"{name}.log").read_text(errors="replace")
            except OSError:
                continue
            counts[name] = sum(
                1
                for line in text.splitlines()
                if '"level": "warning"' in line or '"level": "error"' in line
            )
        return counts

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                await asyncio.to_thread(proc.wait, 15)
            except subprocess.TimeoutExpired:
                proc.kill()
                await asyncio.to_thread(proc.wait)
        await self.infra.delete_topics(self.topic_prefix)
        if not self.keep_databases:
            for service in DATABASES:
                await self.infra.drop_database(self.database(service))


# --- the events ------------------------------------------------------------------------------


@dataclass
class Committed:
    agency: int
    # Wall time (time.time()) right before COMMIT was sent: never later than the commit, so
    # a latency measured from it is never flattered.
    at: float
    phase: str


class Injector:
    """Commits `work.task.updated` events to work's outbox, one transaction each, as
    `agencyos.common.outbox.publish` writes them (its INSERT, under the agency's tenant)."""

    def __init__(self, infra: Infra, database: str, agencies: list[Agency]) -> None:
        self.infra = infra
        self.database = database
        self.agencies = agencies
        self.committed: dict[str, Committed] = {}
        self.phase = "warmup"
        self.count = 0
        self.behind_max = 0.0
        self._conn: asyncpg.Connection | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._conn = await self.infra.raw(self.database)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stop()
        if self._conn is not None:
            await self._conn.close()

    async def commit(self, agency: Agency) -> str:
        assert self._conn is not None
        n = self.count
        self.count += 1
        task_id = agency.task_ids[n % len(agency.task_ids)]
        payload = TaskUpdated(
            task_id=task_id,
            project_id=agency.project_id,
            title=f"Task {n}",
            status="in_progress",
            column_id=agency.column_id,
            assignee_ids=[agency.owner_id],
            visible_to_client=False,
            task_version=n + 1,
            actor_id=agency.owner_id,
            position=float(n),
            priority="medium",
            labels=["bench"],
            changed_fields=["title"],
        )
        event = build_event(
            payload, tenant_id=agency.id, source_service="work", subject=f"tasks/{task_id}"
        )
        async with self._conn.transaction():
            await self._conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(agency.id))
            await self._conn.execute(
                "INSERT INTO outbox (tenant_id, event_id, topic, event_type, envelope, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb, '{}'::jsonb)",
                agency.id,
                event.id,
                payload.topic(),
                event.type,
                event.model_dump_json(exclude_none=True),
            )
            at = time.time()
        event_id = str(event.id)
        self.committed[event_id] = Committed(agency.index, at, self.phase)
        agency.events.append(event_id)
        return event_id

    def start(self, rate: float) -> None:
        """Commit `rate` events per second, round-robin over the agencies, until `stop`."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(rate), name="injector")

    async def stop(self) -> None:
        """Stop committing; raises what made the injection fail, if it did."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task

    async def _run(self, rate: float) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        n = 0
        while not self._stopping.is_set():
            due = started + n / rate
            delay = due - loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                if self._stopping.is_set():
                    return
            else:
                self.behind_max = max(self.behind_max, -delay)
            await self.commit(self.agencies[n % len(self.agencies)])
            n += 1


# --- the SSE client --------------------------------------------------------------------------


class HttpError(Exception):
    pass


class SseConnection(asyncio.Protocol):
    """One `GET /v1/stream` over a raw connection: HTTP/1.1 response head, chunked body, SSE
    frames. Every event frame is handed to the client's `deliver`."""

    def __init__(self, client: StreamClient, viewer: Viewer, last_id: str | None) -> None:
        self.client = client
        self.viewer = viewer
        self.last_id = last_id
        self.transport: asyncio.Transport | None = None
        self.head = bytearray()
        self.status: int | None = None
        self.chunked = False
        self.raw = bytearray()
        self.text = ""
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False
        self.ended = False
        # Why the server ended the stream, when it said so (`stream.closed`).
        self.reason: str | None = None

    def itself(self) -> SseConnection:
        """The protocol factory `create_connection` wants, for this one connection."""
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods.
        self.transport = cast(asyncio.Transport, transport)
        lines = [
            "GET /v1/stream HTTP/1.1",
            f"Host: {self.client.host}:{self.client.port}",
            f"Authorization: Bearer {self.viewer.token}",
            "Accept: text/event-stream",
            "Cache-Control: no-cache",
        ]
        if self.last_id:
            lines.append(f"Last-Event-ID: {self.last_id}")
        self.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if self.status is None:
            self.head += data
            end = self.head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, rest = bytes(self.head[:end]).decode("latin-1"), bytes(self.head[end + 4 :])
            status_line, *header_lines = head.split("\r\n")
            self.status = int(status_line.split(" ", 2)[1])
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in header_lines)
            }
            self.chunked = "chunked" in headers.get("transfer-encoding", "").lower()
            if self.status != 200 or "text/event-stream" not in headers.get("content-type", ""):
                self.head = bytearray(rest)
                self.client.failed(self, f"HTTP {self.status}: {rest[:300]!r}")
                self.close()
                return
            self.client.opened(self, now)
            if not self.ready.done():
                self.ready.set_result(None)
            data = rest
            if not data:
                return
        if self.status != 200:
            return
        if self.chunked:
            self.raw += data
            body = self._unchunk()
        else:
            body = data
        if body:
            self._frames(body.decode(), now)

    def _unchunk(self) -> bytes:
        out = bytearray()
        raw = self.raw
        pos = 0
        while True:
            line_end = raw.find(b"\r\n", pos)
            if line_end < 0:
                break
            size = int(bytes(raw[pos:line_end]).split(b";", 1)[0], 16)
            if size == 0:
                self.ended = True
                pos = len(raw)
                break
            start = line_end + 2
            if len(raw) < start + size + 2:
                break
            out += raw[start : start + size]
            pos = start + size + 2
        del raw[:pos]
        return bytes(out)

    def _frames(self, text: str, now: float) -> None:
        self.text += text.replace("\r\n", "\n")
        *frames, self.text = self.text.split("\n\n")
        for frame in frames:
            event_id = name = None
            data: list[str] = []
            for line in frame.split("\n"):
                if not line or line.startswith(":"):
                    continue
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "data":
                    data.append(value)
                elif key == "id":
                    event_id = value
                elif key == "event":
                    name = value
            if data:
                self.client.frame(self, event_id, name, "\n".join(data), now)
            elif not event_id and not name:
                self.client.heartbeats += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(HttpError(f"connection lost before the response: {exc!r}"))
        self.client.lost(self, exc)


@dataclass
class Viewer:
    """One client of the bench: a viewer of one agency, across its connections."""

    index: int
    agency: int
    token: str
    last_id: str | None = None
    last_seq: int = 0
    # Event ids received, in order, over the whole run (every connection).
    received: list[str] = field(default_factory=list)
    out_of_order: int = 0
    foreign: int = 0
    connection: SseConnection | None = None
    # The current connection's response time (its live events count for latency from then).
    live_since: float = 0.0
    connections: int = 0
    dropped: list[str] = field(default_factory=list)
    # Could not (re)connect in all its attempts.
    gave_up: bool = False
    # The reconnect storm: when this viewer asked again, the last event committed for its
    # agency by then, and when it had that event.
    storm_asked: float | None = None
    storm_target: str | None = None
    storm_caught_up: float | None = None
    # Events committed for its agency while it was away (it must get each of them).
    storm_missed: int = 0


class StreamClient:
    """Opens and keeps the viewers' connections, and records every delivery."""

    def __init__(
        self, host: str, port: int, viewers: list[Viewer], injector: Injector, concurrency: int
    ) -> None:
        self.host = host
        self.port = port
        self.viewers = viewers
        self.injector = injector
        self.gate = asyncio.Semaphore(concurrency)
        self.latencies: dict[str, list[float]] = {}
        # The steady phase's live deliveries, (event id, arrival wall time), for the split of
        # the latency into stages.
        self.steady_arrivals: list[tuple[str, float]] = []
        self.unresolved: list[tuple[Viewer, str, float]] = []
        self.frames_other: Counter[str] = Counter()
        self.heartbeats = 0
        self.failures: Counter[str] = Counter()
        self.drops: Counter[str] = Counter()
        self.reconnects = 0
        self.auto_reconnect = True
        self.stopped = False
        self.open_count = 0
        # The bench's phase now, to say when drops happened.
        self.phase = "start"
        self._tasks: set[asyncio.Task[None]] = set()

    # connections

    async def connect(self, viewer: Viewer, *, gated: bool = True, attempts: int = 5) -> bool:
        """Open `viewer`'s stream (with its Last-Event-ID once it has one), until its response
        head arrives; False (and `viewer.gave_up`) after `attempts` failures. `gated`: at most
        `concurrency` handshakes at once (the initial ramp); the storm's reconnects are not
        gated, as real clients do not wait for each other."""
        for attempt in range(attempts):
            if self.stopped:
                return False
            async with self.gate if gated else contextlib.nullcontext():
                if await self._attempt(viewer):
                    return True
            await asyncio.sleep(0.5 * (attempt + 1))
        viewer.gave_up = True
        return False

    async def _attempt(self, viewer: Viewer) -> bool:
        loop = asyncio.get_running_loop()
        conn = SseConnection(self, viewer, viewer.last_id)
        viewer.connection = conn
        try:
            await loop.create_connection(conn.itself, self.host, self.port)
            await asyncio.wait_for(conn.ready, READY_TIMEOUT_SECONDS)
            return True
        except HttpError as exc:
            conn.close()
            self.failures[str(exc)[:160]] += 1
        except (OSError, TimeoutError) as exc:
            conn.close()
            self.failures[repr(exc)[:160]] += 1
        return False

    def opened(self, conn: SseConnection, now: float) -> None:
        viewer = conn.viewer
        viewer.live_since = now
        viewer.connections += 1
        self.open_count += 1
        if viewer.storm_target is None and viewer.storm_asked is not None:
            viewer.storm_caught_up = now

    def failed(self, conn: SseConnection, reason: str) -> None:
        if not conn.ready.done():
            conn.ready.set_exception(HttpError(reason))

    def lost(self, conn: SseConnection, exc: Exception | None) -> None:
        viewer = conn.viewer
        if conn.status == 200:
            self.open_count -= 1
        if conn.closing or viewer.connection is not conn:
            return
        # The server ended it: record why, and come back like EventSource does.
        if conn.reason is not None:
            reason = f"stream.closed: {conn.reason}"
        elif exc is None:
            reason = "server ended the stream without a reason"
        else:
            reason = f"connection error {exc!r}"
        self.drops[f"{self.phase}: {reason}"] += 1
        viewer.dropped.append(reason)
        if self.auto_reconnect:
            self.reconnects += 1
            self.spawn(self._reconnect_later(viewer))

    async def _reconnect_later(self, viewer: Viewer) -> None:
        await asyncio.sleep(1.0)
        if self.auto_reconnect:
            await self.connect(viewer)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close_all(self) -> None:
        for viewer in self.viewers:
            if viewer.connection is not None:
                viewer.connection.close()

    async def shutdown(self) -> None:
        """No more (re)connecting; every connection closed."""
        self.stopped = True
        self.auto_reconnect = False
        for task in tuple(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self.close_all()

    # deliveries

    def frame(
        self, conn: SseConnection, cursor: str | None, name: str | None, data: str, now: float
    ) -> None:
        viewer = conn.viewer
        try:
            event = json.loads(data)
        except ValueError:
            self.frames_other[f"unparsable {name}"] += 1
            return
        if not isinstance(event, dict) or "specversion" not in event:
            # Not an event: `ready` (caught up: its id is where to resume from) or the
            # server's last word, `stream.closed` with its reason.
            self.frames_other[name or "data without an event"] += 1
            if cursor and name == "ready":
                viewer.last_id = cursor
            if isinstance(event, dict) and "reason" in event:
                conn.reason = str(event["reason"])
            return
        event_id = str(event.get("id"))
        viewer.received.append(event_id)
        if cursor:
            viewer.last_id = cursor
            try:
                seq = decode(cursor)
            except InvalidCursor:
                seq = None
            if seq is not None:
                if seq <= viewer.last_seq:
                    viewer.out_of_order += 1
                viewer.last_seq = seq
        committed = self.injector.committed.get(event_id)
        if committed is None:
            self.unresolved.append((viewer, event_id, now))
            return
        self._measure(viewer, event_id, committed, now)

    def _measure(self, viewer: Viewer, event_id: str, committed: Committed, now: float) -> None:
        if committed.agency != viewer.agency:
            viewer.foreign += 1
            return
        if event_id == viewer.storm_target and viewer.storm_caught_up is None:
            viewer.storm_caught_up = now
        # Live deliveries only: an event committed while this viewer was away is a catch-up.
        if committed.at >= viewer.live_since:
            self.latencies.setdefault(committed.phase, []).append(now - committed.at)
            if committed.phase == "steady":
                self.steady_arrivals.append((event_id, now))

    def resolve(self) -> None:
        """Deliveries that arrived before their commit was noted (the bench's own loop lag)."""
        pending, self.unresolved = self.unresolved, []
        for viewer, event_id, now in pending:
            committed = self.injector.committed.get(event_id)
            if committed is None:
                viewer.foreign += 1
            else:
                self._measure(viewer, event_id, committed, now)


# --- where the latency goes ---


async def record_times(bootstrap: str, topic: str, event_id: Any) -> dict[str, float]:
    """Event id -> the Kafka timestamp (the producer's send time) of its first record on
    `topic`, read from the beginning to the current end."""
    # No group: the consumer is given every partition of the topic.
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    times: dict[str, float] = {}
    try:
        partitions = list(consumer.assignment())
        if not partitions:
            return times
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=5000)
            for tp, records in batches.items():
                for record in records:
                    key = event_id(json.loads(record.value))
                    if key is not None and key not in times:
                        times[key] = record.timestamp / 1000.0
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
            if not batches:
                break
    finally:
        await consumer.stop()
    return times


async def stages(
    bootstrap: str, prefix: str, injector: Injector, client: StreamClient
) -> dict[str, Any]:
    """The steady phase's latency in three stages, from the Kafka record timestamps: commit ->
    the relay's send to `work.events`; -> the recorder's send to `notification.feed`; -> the
    arrival at the client (every live delivery)."""
    relayed = await record_times(bootstrap, f"{prefix}work.events", lambda e: e.get("id"))
    fed = await record_times(
        bootstrap, f"{prefix}{FEED_TOPIC}", lambda m: (m.get("envelope") or {}).get("id")
    )
    steady = [(e, c) for e, c in injector.committed.items() if c.phase == "steady"]
    to_relay = [relayed[e] - c.at for e, c in steady if e in relayed]
    to_feed = [fed[e] - relayed[e] for e, _ in steady if e in relayed and e in fed]
    to_client = [now - fed[e] for e, now in client.steady_arrivals if e in fed]
    return {
        "commit_to_relay_send": distribution(to_relay),
        "relay_send_to_feed_send": distribution(to_feed),
        "feed_send_to_client": distribution(to_client),
    }


async def stream_metrics(url: str) -> dict[str, float]:
    """The stream process's own counters (`agencyos_stream_*`: frames sent, disconnects by
    reason, ...) and its HTTP answers by status, from its /metrics."""
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            text = (await http.get(f"{url}/metrics")).text
    except httpx.HTTPError as exc:
        return {"error": repr(exc)}  # type: ignore[dict-item]
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.rpartition(" ")
        wanted = name.startswith("agencyos_stream_") or (
            name.startswith("agencyos_http_requests_total") and "/v1/stream" in name
        )
        if wanted and not name.endswith("_created"):
            out[name] = float(value)
    return out


# --- measuring the processes -----------------------------------------------------------------


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return None


@dataclass
class Sampler:
    """Every SAMPLE_SECONDS: the stream process's RSS, the open connections, the bench's
    own event-loop lag (a busy client measures late, so the lag is reported with the figures)."""

    stream_pid: int
    client: StreamClient
    started: float
    timeline: list[dict[str, Any]] = field(default_factory=list)
    lag: dict[str, list[float]] = field(default_factory=dict)
    _phase: str = "start"
    peak_rss: int = 0

    @property
    def phase(self) -> str:
        return self._phase

    @phase.setter
    def phase(self, name: str) -> None:
        self._phase = self.client.phase = name

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(SAMPLE_SECONDS)
            self.lag.setdefault(self.phase, []).append(loop.time() - before - SAMPLE_SECONDS)
            rss = rss_bytes(self.stream_pid)
            self.peak_rss = max(self.peak_rss, rss or 0)
            self.timeline.append(
                {
                    "t": round(time.monotonic() - self.started, 2),
                    "phase": self.phase,
                    "rss_mb": None if rss is None else round(rss / 2**20, 1),
                    "open": self.client.open_count,
                }
            )


def busy_seconds() -> float:
    """CPU time the whole machine has been busy (all cores)."""
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    guests = getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)  # already in user/nice
    return float(sum(t) - idle - guests)


@dataclass
class CpuWindow:
    """Cores used by the whole machine and by the named processes, from creation to `finish`."""

    pids: dict[str, int]
    wall: float = field(default_factory=time.monotonic)
    busy: float = field(default_factory=busy_seconds)
    before: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def finish(self) -> dict[str, float | None]:
        wall = max(time.monotonic() - self.wall, 1e-9)
        out: dict[str, float | None] = {"machine": round((busy_seconds() - self.busy) / wall, 2)}
        for name, pid in self.pids.items():
            now, then = cpu_seconds(pid), self.before.get(name)
            out[name] = None if now is None or then is None else round((now - then) / wall, 2)
        return out


# --- the run ---------------------------------------------------------------------------------


async def wait_until(check: Any, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)
    return True


def has_all(viewer: Viewer, agencies: list[Agency]) -> bool:
    events = agencies[viewer.agency].events
    return bool(events) and bool(viewer.received) and viewer.received[-1] == events[-1]


def verify(viewers: list[Viewer], agencies: list[Agency]) -> dict[str, Any]:
    """Every viewer got every event of its agency from the first one it saw (a warm-up event)
    to the last one committed, each exactly once, in order, and nothing else."""
    missing = holes = duplicates = foreign = out_of_order = incomplete = 0
    examples: list[str] = []
    for viewer in viewers:
        events = agencies[viewer.agency].events
        position = {event_id: i for i, event_id in enumerate(events)}
        first = min((position[e] for e in viewer.received if e in position), default=None)
        expected = set(events[first:]) if first is not None else set(events)
        counts = Counter(viewer.received)
        lost = expected - counts.keys()
        doubled = sum(c - 1 for e, c in counts.items() if c > 1)
        strange = sum(1 for e in counts if e not in position)
        missing += len(lost)
        # Missing before the last event it got is a hole; after it, a catch-up not yet done.
        last = max((position[e] for e in viewer.received if e in position), default=-1)
        holes += sum(1 for e in lost if position[e] < last)
        duplicates += doubled
        foreign += strange + viewer.foreign
        out_of_order += viewer.out_of_order
        if lost or doubled or strange or viewer.out_of_order:
            incomplete += 1
            if len(examples) < 5:
                examples.append(
                    f"viewer {viewer.index} (agency {viewer.agency}): {len(lost)} missing, "
                    f"{doubled} duplicates, {strange} foreign, {viewer.out_of_order} out of order, "
                    f"{len(viewer.received)} received of {len(expected)}"
                )
    return {
        "viewers": len(viewers),
        "viewers_incomplete": incomplete,
        "missing": missing,
        "holes": holes,
        "duplicates": duplicates,
        "foreign": foreign,
        "out_of_order": out_of_order,
        "deliveries": sum(len(v.received) for v in viewers),
        "examples": examples,
        "ok": incomplete == 0 and foreign == 0,
    }


async def open_all(client: StreamClient, viewers: list[Viewer]) -> float:
    """Open every viewer's stream; the seconds it took. Raises when any could not."""
    started = time.monotonic()
    opened = await asyncio.gather(*(client.connect(v) for v in viewers))
    if not all(opened):
        raise RuntimeError(
            f"{opened.count(False)} of {len(viewers)} streams could not be opened: "
            f"{dict(client.failures)}"
        )
    return time.monotonic() - started


async def storm(
    client: StreamClient,
    viewers: list[Viewer],
    agencies: list[Agency],
    window: float,
) -> float:
    """Reconnect every viewer with its Last-Event-ID, spread evenly over `window` seconds
    (each on its own: none waits for another's answer); returns when the last has asked,
    with the wall time the first did."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    wall_started = time.time()
    for i, viewer in enumerate(viewers):
        await asyncio.sleep(max(0.0, started + i * window / len(viewers) - loop.time()))
        events = agencies[viewer.agency].events
        viewer.storm_asked = time.time()
        target = events[-1] if events else None
        seen = events.index(viewer.received[-1]) if viewer.received else -1
        viewer.storm_missed = len(events) - 1 - seen
        viewer.storm_target = None if seen == len(events) - 1 else target
        client.spawn(client.connect(viewer, gated=False))
    return wall_started


async def bench(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    """Start everything, measure, stop everything; the result (partial, with `error`, when a
    phase broke: what was measured up to there is kept)."""
    infra = Infra.from_env()
    work = REPO / ".run" / "bench" / f"{stamp}-stream"
    agencies = make_agencies(args.agencies)
    keys = TestKeys()
    load_before = os.getloadavg()
    result: dict[str, Any] = {}
    notes: list[str] = []
    sampler: Sampler | None = None
    async with serve_jwks(keys) as jwks_url:
        stack = Stack(
            infra=infra,
            log_dir=work / "logs",
            jwks_url=jwks_url,
            relay_poll_seconds=args.relay_poll_seconds,
            keep_databases=args.keep_databases,
        )
        print(f"starting notification stream + worker, work relay (logs: {stack.log_dir}) ...")
        minting = asyncio.create_task(asyncio.to_thread(mint_tokens, keys, agencies, args.viewers))
        injector = Injector(infra, stack.database("work"), agencies)
        client: StreamClient | None = None
        sampling: asyncio.Task[None] | None = None
        try:
            started = time.monotonic()
            await stack.start()
            tokens = await minting
            result["startup_seconds"] = round(time.monotonic() - started, 1)
            await injector.open()
            viewers = [Viewer(i, agency, token) for i, (agency, token) in enumerate(tokens)]
            client = StreamClient(
                "127.0.0.1", stack.http_port, viewers, injector, args.connect_concurrency
            )
            stream_pid = stack.pid("stream")
            sampler = Sampler(stream_pid, client, time.monotonic())
            sampling = asyncio.create_task(sampler.run())
            result["stream_rss_idle_mb"] = mb(rss_bytes(stream_pid))
            pids = {"stream": stream_pid, **{n: stack.pid(n) for n in ("recorder", "relay")}}
            pids["bench client"] = os.getpid()
            try:
                await measure(args, stack, injector, client, sampler, agencies, pids, result)
            except Exception as exc:
                result["error"] = f"{type(exc).__name__}: {exc}"
                print(f"the run broke: {result['error']}", flush=True)
            await summarize(args, stack, injector, client, sampler, agencies, result)
        finally:
            print("stopping ...", flush=True)
            minting.cancel()
            if sampling is not None:
                sampling.cancel()
            await injector.close()
            if client is not None:
                await client.shutdown()
            await asyncio.sleep(0.5)
            warnings = stack.warnings()
            await stack.stop()
    for name, count in warnings.items():
        if count:
            notes.append(f"{name} logged {count} warnings/errors (see {stack.log_dir})")
    load_after = os.getloadavg()
    if load_before[0] > (os.cpu_count() or 1):
        notes.append(
            f"busy machine: load average {load_before[0]:.1f} before the run "
            f"on {os.cpu_count()} cores"
        )
    result.update(
        {
            "timestamp": stamp,
            "git": {
                "commit": command_output(["git", "rev-parse", "HEAD"]).strip() or None,
                "dirty": bool(command_output(["git", "status", "--porcelain"]).strip()),
            },
            "machine": {
                "cores": os.cpu_count(),
                "platform": pyplatform.platform(),
                "load_average_before": [round(x, 2) for x in load_before],
                "load_average_after": [round(x, 2) for x in load_after],
            },
            "parameters": {
                "agencies": args.agencies,
                "viewers_per_agency": args.viewers,
                "connections": args.agencies * args.viewers,
                "rate_per_second": args.rate,
                "steady_seconds": args.steady,
                "storm_pause_seconds": args.storm_pause,
                "storm_window_seconds": args.storm_window,
                "tail_seconds": args.tail,
                "relay_poll_seconds": args.relay_poll_seconds,
                "connect_concurrency": args.connect_concurrency,
            },
            "timeline": sampler.timeline if sampler is not None else [],
            "notes": notes,
            "work_dir": str(work),
        }
    )
    return result


def mb(value: int | None) -> float | None:
    return None if value is None else round(value / 2**20, 1)


async def measure(
    args: argparse.Namespace,
    stack: Stack,
    injector: Injector,
    client: StreamClient,
    sampler: Sampler,
    agencies: list[Agency],
    pids: dict[str, int],
    out: dict[str, Any],
) -> None:
    """The phases, each adding its figures to `out` as it ends."""
    viewers = client.viewers
    stream_pid = pids["stream"]

    sampler.phase = "connect"
    print(f"opening {len(viewers)} stream connections ...", flush=True)
    cpu = CpuWindow(pids)
    out["connect_seconds"] = round(await open_all(client, viewers), 1)
    out["cpu_connect_cores"] = cpu.finish()
    stack.check_alive()
    await asyncio.sleep(1.0)
    out["rss_connected_mb"] = mb(rss_bytes(stream_pid))

    # Warm-up: an event per agency until every viewer has one (the pipeline is flowing and
    # every connection subscribed); each viewer's check starts from the first event it saw.
    sampler.phase = "warmup"
    warmed = False
    warmup_started = time.monotonic()
    while time.monotonic() - warmup_started < args.warmup_timeout:
        for agency in agencies:
            await injector.commit(agency)
        if await wait_until(lambda: all(v.received for v in viewers), 2.0):
            warmed = True
            break
        stack.check_alive()
    out["warmup_seconds"] = round(time.monotonic() - warmup_started, 1)
    if not warmed:
        waiting = sum(1 for v in viewers if not v.received)
        raise RuntimeError(
            f"{waiting} viewers received nothing within {args.warmup_timeout}s: "
            f"failures {dict(client.failures)}, drops {dict(client.drops)}\n"
            f"stream log:\n{stack.log_tail('stream')}\nrecorder log:\n{stack.log_tail('recorder')}"
        )
    await wait_until(lambda: all(has_all(v, agencies) for v in viewers), 5.0)

    # Steady state.
    print(f"steady: {args.rate:g} events/s for {args.steady:g}s ...", flush=True)
    sampler.phase = injector.phase = "steady"
    cpu = CpuWindow(pids)
    committed_before = injector.count
    injector.start(args.rate)
    await asyncio.sleep(args.steady)
    out["cpu_steady_cores"] = cpu.finish()
    out["steady_events_per_second"] = round((injector.count - committed_before) / args.steady, 1)
    out["rss_steady_mb"] = mb(rss_bytes(stream_pid))
    out["stream_metrics_after_steady"] = await stream_metrics(stack.url)
    stack.check_alive()

    # The storm: everyone leaves, events go on, everyone comes back with Last-Event-ID.
    print(
        f"storm: closing all, {args.storm_pause:g}s away, reconnecting all over "
        f"{args.storm_window:g}s ...",
        flush=True,
    )
    sampler.phase = injector.phase = "storm"
    client.auto_reconnect = False
    client.close_all()
    await asyncio.sleep(args.storm_pause)
    client.auto_reconnect = True
    cpu = CpuWindow(pids)
    started = await storm(client, viewers, agencies, args.storm_window)
    asked = [v.storm_asked for v in viewers if v.storm_asked is not None]
    caught_up = await wait_until(
        lambda: all(v.storm_caught_up is not None or v.gave_up for v in viewers),
        args.catchup_timeout,
    ) and not any(v.gave_up for v in viewers)
    out["cpu_storm_cores"] = cpu.finish()
    back = [v for v in viewers if v.storm_asked is not None and v.live_since >= v.storm_asked]
    catchups = [
        v.storm_caught_up - v.storm_asked
        for v in viewers
        if v.storm_caught_up is not None and v.storm_asked is not None
    ]
    done_at = [v.storm_caught_up for v in viewers if v.storm_caught_up is not None]
    missed = [v.storm_missed for v in viewers]
    out["storm"] = {
        "reconnects_asked_in_seconds": round(max(asked) - started, 2),
        "reconnected": len(back),
        "reconnects_answered_in_seconds": round(max(v.live_since for v in back) - started, 2)
        if back
        else None,
        "all_caught_up": caught_up,
        "caught_up": len(catchups),
        "gave_up": sum(1 for v in viewers if v.gave_up),
        "all_caught_up_after_seconds": round(max(done_at) - started, 2)
        if caught_up and done_at
        else None,
        "catch_up_per_viewer_ms": distribution(catchups),
        "missed_events_total": sum(missed),
        "missed_events_per_viewer": distribution([float(m) for m in missed], scale=1.0),
    }

    # A tail of live events after the storm, then a drain.
    sampler.phase = injector.phase = "tail"
    await asyncio.sleep(args.tail)
    await injector.stop()
    sampler.phase = "drain"
    out["drained"] = await wait_until(
        lambda: all(has_all(v, agencies) for v in viewers if not v.gave_up), 30.0
    )
    stack.check_alive()


async def summarize(
    args: argparse.Namespace,
    stack: Stack,
    injector: Injector,
    client: StreamClient,
    sampler: Sampler,
    agencies: list[Agency],
    out: dict[str, Any],
) -> None:
    """The figures over the whole run (also when a phase broke: up to where it did)."""
    client.resolve()
    out["stream_metrics_at_end"] = await stream_metrics(stack.url)
    out["events_committed"] = injector.count
    out["injector_behind_max_seconds"] = round(injector.behind_max, 3)
    out["rss_peak_mb"] = mb(sampler.peak_rss)
    out["latency_ms"] = {phase: distribution(v) for phase, v in client.latencies.items()}
    try:
        out["steady_stages_ms"] = await stages(
            stack.infra.kafka_bootstrap, stack.topic_prefix, injector, client
        )
    except Exception as exc:  # a figure short, not a broken run
        out["steady_stages_ms"] = {"error": repr(exc)}
    out["bench_loop_lag_ms"] = {phase: distribution(v) for phase, v in sampler.lag.items()}
    out["drops"] = dict(client.drops)
    out["connect_failures"] = dict(client.failures)
    out["other_frames"] = dict(client.frames_other)
    out["heartbeats"] = client.heartbeats
    out["verification"] = verify(client.viewers, agencies)
    steady = out["latency_ms"].get("steady", {})
    out["targets"] = {
        "rss_below_1gb": sampler.peak_rss < TARGET_RSS_BYTES,
        "p99_below_500ms": steady.get("p99") is not None
        and steady["p99"] < TARGET_P99_SECONDS * 1000,
        "storm_all_caught_up": out.get("storm", {}).get("all_caught_up", False),
    }


# --- output ----------------------------------------------------------------------------------


def render(result: dict[str, Any]) -> str:
    p = result["parameters"]
    lat = result.get("latency_ms", {})
    steady = lat.get("steady", {})
    storm_live = lat.get("storm", {})
    storm = result.get("storm", {})
    catch = storm.get("catch_up_per_viewer_ms", {})
    ver = result.get("verification", {})
    cpu = result.get("cpu_steady_cores", {})
    lag = result.get("bench_loop_lag_ms", {}).get("steady", {})
    targets = result.get("targets", {})
    stages = result.get("steady_stages_ms", {})

    def ok(flag: bool | None) -> str:
        return "yes" if flag else "NO"

    lines = [
        f"stream fan-out: {p['connections']} connections ({p['agencies']} agencies x "
        f"{p['viewers_per_agency']} viewers) on one stream process, {p['rate_per_second']:g} "
        f"events/s asked ({result.get('steady_events_per_second')} committed)",
        f"  connections opened in                       {result.get('connect_seconds')} s",
        f"  stream RSS idle / connected / steady / peak  {result.get('stream_rss_idle_mb')} / "
        f"{result.get('rss_connected_mb')} / {result.get('rss_steady_mb')} / "
        f"{result.get('rss_peak_mb')} MB   (< 1 GB: {ok(targets.get('rss_below_1gb'))})",
        f"  commit -> client latency, steady            p50 {steady.get('p50')}  p95 "
        f"{steady.get('p95')}  p99 {steady.get('p99')}  max {steady.get('max')} ms over "
        f"{steady.get('count')} deliveries   (p99 < 500 ms: {ok(targets.get('p99_below_500ms'))})",
        "  of which (p50/p99 ms): commit -> relay sent "
        + "/".join(str(stages.get("commit_to_relay_send", {}).get(k)) for k in ("p50", "p99"))
        + ", -> recorder sent "
        + "/".join(str(stages.get("relay_send_to_feed_send", {}).get(k)) for k in ("p50", "p99"))
        + ", -> client "
        + "/".join(str(stages.get("feed_send_to_client", {}).get(k)) for k in ("p50", "p99")),
        "  CPU cores, steady                           "
        + "  ".join(f"{k} {v}" for k, v in cpu.items()),
        f"  bench loop lag, steady                      p99 {lag.get('p99')}  max "
        f"{lag.get('max')} ms",
        f"storm: all {p['connections']} closed, {p['storm_pause_seconds']:g} s away, "
        f"reconnected with Last-Event-ID over {storm.get('reconnects_asked_in_seconds')} s "
        f"({storm.get('reconnected')} answered, the last after "
        f"{storm.get('reconnects_answered_in_seconds')} s; {storm.get('gave_up')} gave up), "
        f"{storm.get('missed_events_total')} missed deliveries to catch up",
        f"  all caught up after                         "
        f"{storm.get('all_caught_up_after_seconds')} s from the first reconnect "
        f"({storm.get('caught_up')}/{p['connections']})",
        f"  catch-up per viewer                         p50 {catch.get('p50')}  p95 "
        f"{catch.get('p95')}  p99 {catch.get('p99')}  max {catch.get('max')} ms",
        f"  live latency during the storm               p50 {storm_live.get('p50')}  p99 "
        f"{storm_live.get('p99')}  max {storm_live.get('max')} ms",
        f"every event to every viewer exactly once, in order: {ok(ver.get('ok'))} "
        f"({ver.get('deliveries')} deliveries of {result.get('events_committed')} events; "
        f"missing {ver.get('missing')}, duplicates {ver.get('duplicates')}, foreign "
        f"{ver.get('foreign')}, out of order {ver.get('out_of_order')}; of the missing, "
        f"{ver.get('holes')} before a viewer's last event, the rest not yet caught up)",
    ]
    if result.get("error"):
        lines.append(f"THE RUN BROKE: {result['error'][:2000]}")
    if result.get("connect_failures"):
        lines.append(f"  failed connection attempts: {result['connect_failures']}")
    ended = {
        name.split("{", 1)[1].rstrip("}"): int(value)
        for name, value in (result.get("stream_metrics_at_end") or {}).items()
        if name.startswith("agencyos_stream_disconnects_total{") and value
    }
    if ended:
        lines.append(f"  the stream's own count of ended streams: {ended}")
    if result.get("drops"):
        lines.append(f"  dropped by the server: {result['drops']}")
    lines += [f"  {example}" for example in ver.get("examples", [])]
    lines += [f"note: {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def command_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=False).stdout
    except OSError:
        return ""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=100, help="connections per agency")
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--steady", type=float, default=30.0, help="steady state (s)")
    parser.add_argument("--storm-pause", type=float, default=3.0, help="all away for (s)")
    parser.add_argument(
        "--storm-window", type=float, default=5.0, help="reconnects spread over (s)"
    )
    parser.add_argument("--tail", type=float, default=5.0, help="live events after (s)")
    parser.add_argument("--catchup-timeout", type=float, default=60.0)
    parser.add_argument("--warmup-timeout", type=float, default=60.0)
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument(
        "--relay-poll-seconds",
        type=float,
        default=None,
        help="work relay's poll interval (default: the service's own, 0.2 s)",
    )
    parser.add_argument("--keep-databases", action="store_true")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def raise_open_files_limit(connections: int) -> None:
    """Each connection is a descriptor here and one in the stream process (which inherits
    this limit): raise the soft limit as far as needed, or say why the run cannot work."""
    needed = connections * 2 + 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(
            f"{connections} connections need about {needed} open files, and the hard limit "
            f"is {hard}: raise it (ulimit -Hn) or pass fewer --agencies/--viewers"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raise_open_files_limit(args.agencies * args.viewers)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    result = asyncio.run(bench(args, stamp))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{stamp}-stream.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(render(result))
    print(f"result: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    complete = "error" not in result and result.get("drained")
    return 0 if complete and result.get("verification", {}).get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
