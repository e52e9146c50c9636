"""The stream's own CPU per delivery, without sockets, the database or Kafka: the hub
dispatches events (100/s over 50 agencies) to 5,000 connections, each driven by its
`EventStreamResponse` with an ASGI `send` that only counts. It isolates what our code costs
per delivery from uvicorn and the kernel (`bench/stream_fanout.py` measures the whole path).

    .venv/bin/python bench/stream_cpu.py [--profile] [--freeze]

`--profile`: cProfile's top functions; `--freeze`: `gc.freeze()` once the streams are open.
Also prints how long a full garbage collection takes with the streams open, and the
collections (and their longest pause) during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.feed import store
from agencyos.notification.feed.stream.connection import Connection
from agencyos.notification.feed.stream.hub import StreamHub
from agencyos.notification.feed.stream.response import EventStreamResponse
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.feed.visibility import FeedEntry, Viewer
from agencyos.testing.feed_events import task_event


class GcPauses:
    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))


def timed_full_gc() -> float:
    started = time.perf_counter()
    gc.collect()
    return (time.perf_counter() - started) * 1000


def entry_of(tenant: uuid.UUID, seq: int) -> FeedEntry:
    new = store.describe(task_event(tenant, uuid.uuid4()))
    assert new is not None
    return FeedEntry(
        tenant_id=tenant,
        seq=seq,
        event_id=new.event_id,
        type=new.type,
        occurred_at=new.occurred_at,
        permission=new.permission,
        project_id=new.project_id,
        client_id=new.client_id,
        person_id=new.person_id,
        personal=new.personal,
        client_visible=new.client_visible,
        envelope=new.envelope,
    )


async def run(args: argparse.Namespace) -> None:
    pauses = GcPauses()
    hub = StreamHub("unused:9092", "unused")
    tenants = [uuid.uuid4() for _ in range(args.agencies)]
    writes = 0
    done = asyncio.Event()

    async def send(message: Any) -> None:
        nonlocal writes
        writes += 1

    async def receive() -> dict[str, Any]:
        await done.wait()
        return {"type": "http.disconnect"}

    def no_database() -> AsyncIterator[Any]:
        raise RuntimeError("no database here")

    tasks = []
    for tenant in tenants:
        for _ in range(args.viewers):
            viewer = Viewer(
                tenant_id=tenant,
                user_id=uuid.uuid4(),
                role=Role.OWNER,
                permissions=DEFAULT_ROLE_PERMISSIONS[Role.OWNER],
                project_ids=None,
            )
            connection = Connection(
                viewer,
                TypeFilter(),
                open_session=no_database,  # type: ignore[arg-type]
                last_seq=0,
                queue_size=1000,
                heartbeat_seconds=15,
                page_size=500,
                expires_at=None,
                cache=hub.frames,
            )
            hub.register(connection)
            response = EventStreamResponse(hub, connection, resume=False)
            tasks.append(asyncio.create_task(response({}, receive, send)))
    await asyncio.sleep(0.5)
    print(
        f"full gc with {len(tasks)} streams open: {timed_full_gc():.1f} ms "
        f"({len(gc.get_objects())} tracked objects)"
    )
    if args.freeze:
        gc.freeze()
        print(f"full gc after gc.freeze(): {timed_full_gc():.1f} ms")
    seqs = dict.fromkeys(tenants, 0)
    entries = []
    for i in range(args.rate * args.seconds):
        tenant = tenants[i % len(tenants)]
        seqs[tenant] += 1
        entries.append(entry_of(tenant, seqs[tenant]))
    pauses.pauses.clear()
    writes_before = writes
    profile = cProfile.Profile() if args.profile else None
    cpu_started, started = time.process_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    for i, entry in enumerate(entries):
        hub.dispatch(entry)
        await asyncio.sleep(0)  # as the hub does after each entry
        delay = started + (i + 1) / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.sleep(0.5)
    if profile is not None:
        profile.disable()
    cpu = time.process_time() - cpu_started
    deliveries = len(entries) * args.viewers
    print(
        f"{deliveries} deliveries in {writes - writes_before} writes: CPU {cpu:.2f} s, "
        f"{cpu / deliveries * 1e6:.1f} us per delivery"
    )
    longest = max((p for _, p in pauses.pauses), default=0.0) * 1000
    full = sum(1 for generation, _ in pauses.pauses if generation == 2)
    print(f"gc during the run: {len(pauses.pauses)} ({full} full), longest {longest:.1f} ms")
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    if profile is not None:
        pstats.Stats(profile).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=50)
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--rate", type=int, default=100, help="events per second")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--freeze", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
