"""`make bench` (second part): a burst of domain events through the notification service.

What it measures: N events (default 10,000) written at once to the Kafka topics the
notification service reads, spread over several agencies, each one telling one member
something that is on in-app and by email by default (`work.task.assigned` and
`work.comment.mentioned`, alternately). Then, from the moment the last event is written:

- how long until every in-app notification row is written;
- how long until every email is accepted by the SMTP server (mailpit, started by the local
  stack): a delivery is `sent` only once the server answered 250;
- how long until the notification consumer's lag (its `agencyos_kafka_consumer_lag` gauge, summed
  over partitions) is back to 0;
- emails per second over the sending.

The whole platform is started as processes (agencyos.testing.platform.Platform, as bench/run.py
does) on a per-run topic prefix and `agencyos_bench_burst_*` databases. The agencies' members and
projects reach the notification service the way they do in production: as identity's and
work's events on the same topics, before the burst. Nothing asserts on speed; the figures are
printed, written to bench/results/<UTC timestamp>-notification.json and kept in bench/README.md.

    .venv/bin/python bench/notification_burst.py [--events 10000] [--agencies 10] [--members 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as pyplatform
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from agencyos.common.events import (
    AgencyCreated,
    CloudEvent,
    CommentMentioned,
    EventPayload,
    MemberAdded,
    ProjectCreated,
    ProjectState,
    TaskAssigned,
    build_event,
)
from agencyos.testing.infra import Infra
from agencyos.testing.platform import Platform

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
POLL_SECONDS = 0.25


@dataclass
class Agency:
    id: uuid.UUID
    members: list[uuid.UUID] = field(default_factory=list)
    project_id: uuid.UUID = field(default_factory=uuid.uuid4)


def event(payload: EventPayload, agency: Agency, source: str, subject: str) -> CloudEvent:
    return build_event(payload, tenant_id=agency.id, source_service=source, subject=subject)


def seed_events(agencies: list[Agency], stamp: str) -> list[CloudEvent]:
    """Each agency, its members (the first one its owner) and one project they are all on."""
    events: list[CloudEvent] = []
    for n, agency in enumerate(agencies):
        owner = agency.members[0]
        events.append(
            event(
                AgencyCreated(
                    agency_id=agency.id,
                    slug=f"burst-{stamp}-{n}",
                    name=f"Burst agency {n}",
                    owner_user_id=owner,
                    currency="EUR",
                    timezone="Europe/Berlin",
                ),
                agency,
                "identity",
                f"agencies/{agency.id}",
            )
        )
        for i, user_id in enumerate(agency.members):
            events.append(
                event(
                    MemberAdded(
                        agency_id=agency.id,
                        user_id=user_id,
                        email=f"burst-{stamp}-{n}-{i}@bench.agencyos.test",
                        name=f"Member {n}.{i}",
                        role="owner" if user_id == owner else "member",
                    ),
                    agency,
                    "identity",
                    f"members/{user_id}",
                )
            )
        events.append(
            event(
                ProjectCreated(
                    project_id=agency.project_id,
                    name=f"Project {n}",
                    client_id=None,
                    deal_id=None,
                    created_by=owner,
                    project=ProjectState(
                        name=f"Project {n}",
                        client_id=None,
                        status="active",
                        billing_type="hourly",
                        hourly_rate_cents=None,
                        currency="EUR",
                        member_ids=list(agency.members),
                        changed_at=datetime.now(UTC),
                    ),
                ),
                agency,
                "work",
                f"projects/{agency.project_id}",
            )
        )
    return events


def burst_events(agencies: list[Agency], count: int) -> list[CloudEvent]:
    """`count` events round-robin over the agencies; each tells one member (never its actor)
    one thing: a task assigned to them, or a mention in a comment."""
    events: list[CloudEvent] = []
    for n in range(count):
        agency = agencies[n % len(agencies)]
        members = agency.members
        recipient = members[(n // len(agencies)) % len(members)]
        actor = members[(members.index(recipient) + 1) % len(members)]
        task_id = uuid.uuid4()
        if n % 2 == 0:
            payload: EventPayload = TaskAssigned(
                task_id=task_id,
                project_id=agency.project_id,
                task_title=f"Task {n}",
                assignee_id=recipient,
                assigned_by=actor,
            )
        else:
            payload = CommentMentioned(
                comment_id=uuid.uuid4(),
                task_id=task_id,
                project_id=agency.project_id,
                task_title=f"Task {n}",
                mentioned_user_id=recipient,
                author_id=actor,
                excerpt=f"Could you look at this, please? ({n})",
            )
        events.append(event(payload, agency, "work", f"tasks/{task_id}"))
    return events


async def write_events(bootstrap: str, prefix: str, events: list[CloudEvent]) -> float:
    """Write every event (keyed by tenant, as the outbox relay does) and wait for the broker to
    acknowledge all of them; returns the seconds it took."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5
    )
    await producer.start()
    started = time.monotonic()
    try:
        futures = [
            await producer.send(
                f"{prefix}{e.type.split('.', 1)[0]}.events",
                value=e.model_dump_json(exclude_none=True).encode(),
                key=str(e.tenantid).encode(),
            )
            for e in events
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return time.monotonic() - started


async def count(conn: asyncpg.Connection, sql: str, tenants: list[uuid.UUID]) -> int:
    """`sql`'s count summed over the agencies: every table is under row-level security, so
    each agency's rows are counted in a transaction of its own."""
    total = 0
    for tenant in tenants:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(tenant))
            total += int(await conn.fetchval(sql))
    return total


async def consumer_lag(client: httpx.AsyncClient, metrics_url: str) -> float | None:
    try:
        response = await client.get(metrics_url)
    except httpx.HTTPError:
        return None
    total = 0.0
    for line in response.text.splitlines():
        if line.startswith("agencyos_kafka_consumer_lag{") and 'service="notification"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


@dataclass
class Progress:
    in_app: int = 0
    sent: int = 0
    failed: int = 0
    lag: float | None = None
    in_app_done: float | None = None
    emails_done: float | None = None
    lag_zero: float | None = None
    first_sent: float | None = None
    timeline: list[dict[str, Any]] = field(default_factory=list)


async def watch(
    infra: Infra,
    database: str,
    tenants: list[uuid.UUID],
    metrics_url: str,
    expected: int,
    timeout: float,
    started: float,
) -> Progress:
    """Poll the notification database and metrics until everything is in, or `timeout`."""
    progress = Progress()
    conn = await asyncpg.connect(
        host=infra.pg_host,
        port=infra.pg_port,
        user=infra.owner_user,
        password=infra.owner_password,
        database=database,
    )
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                now = time.monotonic() - started
                progress.in_app = await count(conn, "SELECT count(*) FROM notifications", tenants)
                progress.sent = await count(
                    conn, "SELECT count(*) FROM email_deliveries WHERE status = 'sent'", tenants
                )
                progress.failed = await count(
                    conn, "SELECT count(*) FROM email_deliveries WHERE status = 'failed'", tenants
                )
                progress.lag = await consumer_lag(client, metrics_url)
                if progress.sent and progress.first_sent is None:
                    progress.first_sent = now
                if progress.in_app >= expected and progress.in_app_done is None:
                    progress.in_app_done = now
                if progress.sent + progress.failed >= expected and progress.emails_done is None:
                    progress.emails_done = now
                if progress.lag == 0 and progress.in_app_done and progress.lag_zero is None:
                    progress.lag_zero = now
                progress.timeline.append(
                    {
                        "t": round(now, 2),
                        "in_app": progress.in_app,
                        "sent": progress.sent,
                        "lag": progress.lag,
                    }
                )
                if progress.emails_done and progress.lag_zero:
                    return progress
                if now > timeout:
                    return progress
                await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()


async def wait_for_people(
    infra: Infra, database: str, tenants: list[uuid.UUID], expected: int, timeout: float
) -> None:
    conn = await asyncpg.connect(
        host=infra.pg_host,
        port=infra.pg_port,
        user=infra.owner_user,
        password=infra.owner_password,
        database=database,
    )
    deadline = time.monotonic() + timeout
    try:
        while await count(conn, "SELECT count(*) FROM people", tenants) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the notification service did not learn {expected} members")
            await asyncio.sleep(POLL_SECONDS)
    finally:
        await conn.close()


def fmt(value: float | None, unit: str = "s") -> str:
    return "-" if value is None else f"{value:.1f} {unit}"


def render(result: dict[str, Any]) -> str:
    m = result["measurement"]
    rows = [
        ("events written (broker acknowledged all)", fmt(m["write_seconds"])),
        ("every in-app notification written", fmt(m["in_app_seconds"])),
        ("every email accepted by the SMTP server", fmt(m["emails_seconds"])),
        ("notification consumer lag back to 0", fmt(m["lag_zero_seconds"])),
        ("emails/s (first accepted to last)", fmt(m["emails_per_second"], "/s")),
        ("events/s handled (in-app rows / time to the last)", fmt(m["events_per_second"], "/s")),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [
        f"notification burst: {result['parameters']['events']} events over "
        f"{result['parameters']['agencies']} agencies "
        f"({result['parameters']['members']} members each), 2 channels each",
        "times from the first event written",
    ]
    lines += [f"  {label.ljust(width)}  {value}" for label, value in rows]
    lines.append(
        f"  in-app rows {m['in_app']}/{m['expected']}, emails sent {m['sent']}, "
        f"failed {m['failed']}"
    )
    return "\n".join(lines)


def command_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


async def bench(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    infra = Infra.from_env()
    work = REPO / ".run" / "bench" / f"{stamp}-notification"
    platform = Platform(
        infra=infra,
        log_dir=work / "logs",
        db_prefix="agencyos_bench_burst_",
        topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
    )
    agencies = [
        Agency(id=uuid.uuid4(), members=[uuid.uuid4() for _ in range(args.members)])
        for _ in range(args.agencies)
    ]
    print(f"starting the platform (logs: {platform.log_dir}) ...", flush=True)
    load_before = os.getloadavg()
    await platform.start()
    try:
        database = platform.database("notification")
        metrics_url = f"{platform.url('notification')}/metrics"
        tag = stamp.replace(":", "").replace("-", "").lower()
        await write_events(infra.kafka_bootstrap, platform.topic_prefix, seed_events(agencies, tag))
        tenants = [a.id for a in agencies]
        await wait_for_people(infra, database, tenants, args.agencies * args.members, timeout=120)
        burst = burst_events(agencies, args.events)
        print(f"writing {len(burst)} events ...", flush=True)
        started = time.monotonic()
        write_seconds = await write_events(infra.kafka_bootstrap, platform.topic_prefix, burst)
        progress = await watch(
            infra, database, tenants, metrics_url, len(burst), args.timeout, started
        )
    finally:
        print("stopping the platform ...", flush=True)
        await platform.stop()
    sending = (
        progress.emails_done - progress.first_sent
        if progress.emails_done is not None and progress.first_sent is not None
        else None
    )
    return {
        "timestamp": stamp,
        "git": {"commit": command_output(["git", "rev-parse", "HEAD"]).strip() or None},
        "machine": {
            "cores": os.cpu_count(),
            "platform": pyplatform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "parameters": {
            "events": args.events,
            "agencies": args.agencies,
            "members": args.members,
            "timeout_seconds": args.timeout,
        },
        "measurement": {
            "expected": len(burst),
            "in_app": progress.in_app,
            "sent": progress.sent,
            "failed": progress.failed,
            "write_seconds": round(write_seconds, 2),
            "in_app_seconds": progress.in_app_done,
            "emails_seconds": progress.emails_done,
            "lag_zero_seconds": progress.lag_zero,
            "emails_per_second": round(progress.sent / sending, 1) if sending else None,
            "events_per_second": round(len(burst) / progress.in_app_done, 1)
            if progress.in_app_done
            else None,
        },
        "timeline": progress.timeline,
        "work_dir": str(work),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--agencies", type=int, default=10)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.members < 2:
        parser.error("--members must be at least 2 (every event has an actor and a recipient)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    result = asyncio.run(bench(args, stamp))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{stamp}-notification.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(render(result))
    print(f"result: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    complete = result["measurement"]
    return 0 if complete["in_app"] >= complete["expected"] and complete["emails_seconds"] else 1


if __name__ == "__main__":
    sys.exit(main())
