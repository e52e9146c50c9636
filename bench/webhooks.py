"""`make bench` (fourth part): outbound webhook delivery, on one notification worker process.

What it measures, with `python -m agencyos.notification worker` (the `webhooks` worker: the
ingesting consumer and the dispatcher) on a database and Kafka topic prefix of its own, and a
real HTTP receiver (agencyos.testing.webhook_receiver, in this process, on 127.0.0.2):

1. throughput: a burst of `crm.client.created` events over `--agencies` agencies, each with
   `--endpoints` endpoints subscribed to everything; deliveries per second from the first event
   written to Kafka to the last delivery received;
2. isolation: events at a steady `--rate` for `--steady` seconds to the same agencies, while
   one more endpoint of the first agency never answers (each attempt holds a sending slot for
   the whole `webhook_timeout_seconds`, then is retried): the healthy endpoints' latency from
   the event written to Kafka to its receipt (p50/p95/p99/max), against the target p99 < 1 s.

The events are written straight to `<prefix>crm.events` (as crm's relay would), so what is
timed is the webhook path alone: consume, create the deliveries, claim, sign, POST. Every
event must reach every healthy endpoint exactly once (duplicates and missing ones are
counted): that makes the exit status. Speed figures are printed and written to
`bench/results/<UTC timestamp>-webhooks.json`, not asserted.

    .venv/bin/python bench/webhooks.py [--agencies 10] [--endpoints 2] [--burst 2000]
                                       [--rate 25] [--steady 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
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
from typing import Any

import psutil
from aiokafka import AIOKafkaProducer

from agencyos.common.events import CloudEvent
from agencyos.common.services import EXTRA_TOPICS, SERVICES
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.secrets import encrypt_secret, new_secret
from agencyos.testing.infra import Infra
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DATABASE = "agencyos_bench_webhooks_notification"
TARGET_P99_SECONDS = 1.0
DEAD_PATH = "/dead"


def percentile(values: list[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def distribution_ms(values: list[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 1)

    return {
        "count": len(values),
        "p50_ms": ms(percentile(values, 50)),
        "p95_ms": ms(percentile(values, 95)),
        "p99_ms": ms(percentile(values, 99)),
        "max_ms": ms(max(values) if values else None),
    }


@dataclass
class Endpoint:
    agency_id: uuid.UUID
    id: uuid.UUID
    path: str


@dataclass
class Stack:
    infra: Infra
    receiver: WebhookReceiver
    log_dir: Path
    timeout_seconds: float
    topic_prefix: str = field(default_factory=lambda: f"bench-wh-{uuid.uuid4().hex[:8]}.")
    worker: subprocess.Popen[bytes] | None = None

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENCYOS_")}
        env.update(
            {
                "AGENCYOS_POSTGRES_HOST": self.infra.pg_host,
                "AGENCYOS_POSTGRES_PORT": str(self.infra.pg_port),
                "AGENCYOS_KAFKA_BOOTSTRAP": self.infra.kafka_bootstrap,
                "AGENCYOS_KAFKA_TOPIC_PREFIX": self.topic_prefix,
                "AGENCYOS_LOG_JSON": "true",
                "AGENCYOS_SHUTDOWN_GRACE_SECONDS": "3",
                "AGENCYOS_NOTIFICATION_DATABASE_NAME": DATABASE,
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOW_HTTP": "true",
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS": (
                    f'["{self.receiver.host}/32"]'
                ),
                "AGENCYOS_NOTIFICATION_WEBHOOK_TIMEOUT_SECONDS": str(self.timeout_seconds),
                # the SMTP sink is not part of this run: no email is due anyway
                "AGENCYOS_NOTIFICATION_EMAIL_POLL_SECONDS": "60",
            }
        )
        return env

    async def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        topics = [f"{self.topic_prefix}{s}.events" for s in SERVICES]
        topics += [f"{t}.dlq" for t in topics]
        topics += [f"{self.topic_prefix}{t}" for t in EXTRA_TOPICS]
        await self.infra.create_topics(topics, partitions=3)
        await self.infra.recreate_database(DATABASE)
        env = self.environment()
        migrate = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agencyos.notification",
            "migrate",
            env=env,
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await migrate.communicate()
        if migrate.returncode != 0:
            raise RuntimeError(f"migrating notification failed:\n{out.decode(errors='replace')}")

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "agencyos.notification", "worker"],
            env=self.environment(),
            cwd=REPO,
            stdout=(self.log_dir / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def cpu_seconds(self) -> float:
        """The worker's CPU time so far (user and system)."""
        if self.worker is None:
            return 0.0
        times = psutil.Process(self.worker.pid).cpu_times()
        return float(times.user + times.system)

    def check_alive(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            tail = (self.log_dir / "worker.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the worker exited with {self.worker.returncode}:\n{tail}")

    async def stop(self) -> None:
        if self.worker is not None and self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.worker.wait, 20)
            except subprocess.TimeoutExpired:
                self.worker.kill()
                await asyncio.to_thread(self.worker.wait)
        await self.infra.delete_topics(self.topic_prefix)
        await self.infra.drop_database(DATABASE)


async def create_endpoints(
    infra: Infra, receiver: WebhookReceiver, agencies: list[uuid.UUID], per_agency: int
) -> tuple[list[Endpoint], Endpoint]:
    """`per_agency` healthy endpoints for each agency, and a dead one in the first."""
    key = NotificationSettings().webhook_secret_key
    conn = await infra.raw(DATABASE, owner=True)
    healthy: list[Endpoint] = []
    try:
        async with conn.transaction():
            for n, agency_id in enumerate(agencies):
                await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(agency_id))
                paths = [f"/hook/{n}/{i}" for i in range(per_agency)]
                if n == 0:
                    paths.append(DEAD_PATH)
                for path in paths:
                    endpoint_id = uuid.uuid4()
                    await conn.execute(
                        "INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, "
                        "secret_ciphertext) VALUES ($1, $2, $3, $4, $5)",
                        agency_id,
                        endpoint_id,
                        receiver.url(path),
                        ["*"],
                        encrypt_secret(
                            new_secret(), key=key, tenant_id=agency_id, endpoint_id=endpoint_id
                        ),
                    )
                    endpoint = Endpoint(agency_id, endpoint_id, path)
                    if path == DEAD_PATH:
                        dead = endpoint
                    else:
                        healthy.append(endpoint)
    finally:
        await conn.close()
    return healthy, dead


def client_created(agency_id: uuid.UUID) -> CloudEvent:
    return CloudEvent(
        source="/agencyos/crm",
        type="crm.client.created",
        dataschema="https://agencyos.dev/schemas/crm.client.created/v1",
        tenantid=agency_id,
        data={"client_id": str(uuid.uuid4()), "name": f"Client {uuid.uuid4().hex[:6]}"},
    )


@dataclass
class Sent:
    agency_id: uuid.UUID
    at: float  # time.monotonic() when handed to Kafka


class Events:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
        self.topic = topic
        self.sent: dict[str, Sent] = {}

    async def send(self, agency_id: uuid.UUID) -> None:
        event = client_created(agency_id)
        self.sent[str(event.id)] = Sent(agency_id, time.monotonic())
        await self.producer.send(
            self.topic,
            value=event.model_dump_json(exclude_none=True).encode(),
            key=str(agency_id).encode(),
        )


def received_by(
    receiver: WebhookReceiver, endpoints: list[Endpoint], events: dict[str, Sent]
) -> tuple[list[float], int, int, float | None]:
    """Latencies of the expected deliveries received, how many are missing, duplicates, and
    the last receipt time."""
    latencies: list[float] = []
    missing = duplicates = 0
    last: float | None = None
    for endpoint in endpoints:
        seen = Counter(r.headers.get("webhook-id") for r in receiver.received(endpoint.path))
        arrival = {
            r.headers.get("webhook-id"): r.received_at for r in receiver.received(endpoint.path)
        }
        for event_id, sent in events.items():
            if sent.agency_id != endpoint.agency_id:
                continue
            count = seen.get(event_id, 0)
            if count == 0:
                missing += 1
                continue
            duplicates += count - 1
            latencies.append(arrival[event_id] - sent.at)
            last = max(last or 0.0, arrival[event_id])
    return latencies, missing, duplicates, last


async def wait_all(
    stack: Stack,
    receiver: WebhookReceiver,
    endpoints: list[Endpoint],
    events: dict[str, Sent],
    timeout: float,
) -> None:
    """Until every endpoint received each of `events` of its agency (or `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        _, missing, _, _ = received_by(receiver, endpoints, events)
        if missing == 0:
            return
        await asyncio.sleep(0.5)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.from_env()
    result: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "parameters": vars(args) | {"results_dir": str(args.results_dir)},
        "cpus": os.cpu_count(),
    }
    with WebhookReceiver() as receiver:
        receiver.answer(DEAD_PATH, Answer(delay=3600))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        log_dir = REPO / ".run" / "bench" / f"{stamp}-webhooks" / "logs"
        result["logs"] = str(log_dir)
        stack = Stack(infra, receiver, log_dir, args.timeout_seconds)
        await stack.start()
        try:
            agencies = [uuid.uuid4() for _ in range(args.agencies)]
            healthy, _dead = await create_endpoints(infra, receiver, agencies, args.endpoints)
            events = Events(infra.kafka_bootstrap, f"{stack.topic_prefix}crm.events")
            await events.producer.start()
            stack.start_worker()
            try:
                # warm-up: one event per agency, all delivered before anything is timed
                for agency_id in agencies:
                    await events.send(agency_id)
                await events.producer.flush()
                await wait_all(stack, receiver, healthy, events.sent, 120)
                warm = dict(events.sent)

                # 1. a burst
                events.sent = {}
                cpu_before = stack.cpu_seconds()
                bench_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
                started = time.monotonic()
                for n in range(args.burst):
                    await events.send(agencies[n % len(agencies)])
                await events.producer.flush()
                await wait_all(stack, receiver, healthy, events.sent, 300)
                latencies, missing, duplicates, last = received_by(receiver, healthy, events.sent)
                took = (last or time.monotonic()) - started
                cpu_after = stack.cpu_seconds()
                result["burst"] = {
                    "events": args.burst,
                    "deliveries": len(latencies),
                    "missing": missing,
                    "duplicates": duplicates,
                    "seconds": round(took, 2),
                    "deliveries_per_second": round(len(latencies) / took, 1) if took else None,
                    "latency": distribution_ms(latencies),
                    "worker_cpu_seconds": round(cpu_after - cpu_before, 1),
                    "bench_cpu_seconds": round(
                        resource.getrusage(resource.RUSAGE_SELF).ru_utime - bench_cpu, 1
                    ),
                }
                burst = dict(events.sent)

                # 2. a steady rate, with one endpoint that never answers
                events.sent = {}
                dead_before = len(receiver.received(DEAD_PATH))
                interval = 1 / args.rate
                next_at = time.monotonic()
                for n in range(int(args.rate * args.steady)):
                    await events.send(agencies[n % len(agencies)])
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                await events.producer.flush()
                await wait_all(stack, receiver, healthy, events.sent, 120)
                latencies, missing, duplicates, _ = received_by(receiver, healthy, events.sent)
                p99 = percentile(latencies, 99)
                result["with_a_dead_endpoint"] = {
                    "events": len(events.sent),
                    "rate_per_second": args.rate,
                    "deliveries": len(latencies),
                    "missing": missing,
                    "duplicates": duplicates,
                    "latency": distribution_ms(latencies),
                    "dead_endpoint_attempts": len(receiver.received(DEAD_PATH)) - dead_before,
                    "target_p99_ms": TARGET_P99_SECONDS * 1000,
                    "p99_within_target": p99 is not None and p99 < TARGET_P99_SECONDS,
                }
                _, warm_missing, warm_dupes, _ = received_by(receiver, healthy, warm)
                _, burst_missing, burst_dupes, _ = received_by(receiver, healthy, burst)
                result["correct"] = (
                    missing == duplicates == warm_missing == warm_dupes == 0
                    and burst_missing == burst_dupes == 0
                )
            finally:
                await events.producer.stop()
        finally:
            await stack.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=10)
    parser.add_argument("--endpoints", type=int, default=2, help="healthy endpoints per agency")
    parser.add_argument("--burst", type=int, default=2000, help="events in the burst")
    parser.add_argument("--rate", type=float, default=25.0, help="events/s in the steady phase")
    parser.add_argument("--steady", type=float, default=20.0, help="seconds of steady rate")
    parser.add_argument("--timeout-seconds", type=float, default=10.0)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"{stamp}-webhooks.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"written to {path}")
    sys.exit(0 if result.get("correct") else 1)


if __name__ == "__main__":
    main()
