"""Wait until the local Kafka broker answers admin calls; optionally create the AgencyOS topics.

Used by ``deploy/local/stack.sh``::

    python deploy/local/kafka_ready.py [--bootstrap HOST:PORT] [--timeout 90] [--pid PID]
                                       [--ensure-topics]

An open port is not enough: the broker is "ready" once a metadata request (``list_topics``)
succeeds. With ``--ensure-topics`` it then creates ``<svc>.events`` (3 partitions) and
``<svc>.events.dlq`` (1 partition) for every service, and the other topics of
``agencyos.common.services.EXTRA_TOPICS`` (3 partitions), skipping those that already exist.
Exit status: 0 ready (and topics present), 1 timeout / broker died / topic creation failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections.abc import Sequence

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agencyos.common.services import EXTRA_TOPICS, SERVICES

EVENTS_PARTITIONS = 3
DLQ_PARTITIONS = 1
REPLICATION = 1
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


def wanted_topics() -> dict[str, int]:
    """Topic name -> partition count: every service's, and the extra ones."""
    topics: dict[str, int] = {}
    for svc in SERVICES:
        topics[f"{svc}.events"] = EVENTS_PARTITIONS
        topics[f"{svc}.events.dlq"] = DLQ_PARTITIONS
    for topic in EXTRA_TOPICS:
        topics[topic] = EVENTS_PARTITIONS
    return topics


def default_bootstrap() -> str:
    explicit = os.environ.get("AGENCYOS_KAFKA_BOOTSTRAP")
    if explicit:
        return explicit
    return f"127.0.0.1:{os.environ.get('AGENCYOS_KAFKA_PORT', '9092')}"


def pid_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


async def list_topics_once(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        topics: list[str] = await admin.list_topics()
        return topics
    finally:
        await admin.close()


async def wait_ready(bootstrap: str, timeout: float, pid: int | None) -> list[str] | None:
    """Poll until the broker answers; return its topic list, or None on timeout/death."""
    deadline = time.monotonic() + timeout
    last_error = "no attempt made"
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            print(f"kafka_ready: broker process {pid} exited", file=sys.stderr)
            return None
        try:
            return await asyncio.wait_for(list_topics_once(bootstrap), timeout=10)
        except Exception as exc:  # any failure just means "not ready yet"
            last_error = f"{type(exc).__name__}: {exc}"
        await asyncio.sleep(1)
    print(
        f"kafka_ready: broker at {bootstrap} not ready after {timeout:.0f}s ({last_error})",
        file=sys.stderr,
    )
    return None


async def ensure_topics(bootstrap: str, existing: Sequence[str]) -> bool:
    missing = {name: n for name, n in wanted_topics().items() if name not in existing}
    if not missing:
        return True
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        await admin.start()
        response = await admin.create_topics(
            [
                NewTopic(name=name, num_partitions=n, replication_factor=REPLICATION)
                for name, n in sorted(missing.items())
            ]
        )
        ok = True
        for entry in response.topic_errors:
            topic, code = entry[0], entry[1]
            if code not in (0, TOPIC_ALREADY_EXISTS):
                message = entry[2] if len(entry) > 2 else ""
                print(f"kafka_ready: cannot create {topic}: {code} {message}", file=sys.stderr)
                ok = False
        if not ok:
            return False
        # Wait until the new topics show up in metadata, so callers can use them at once.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            present: set[str] = set(await admin.list_topics())
            if present.issuperset(missing):
                print(f"kafka_ready: created {len(missing)} topic(s): {', '.join(sorted(missing))}")
                return True
            await asyncio.sleep(0.5)
        print("kafka_ready: created topics did not appear in metadata within 30s", file=sys.stderr)
        return False
    finally:
        await admin.close()


async def main_async(args: argparse.Namespace) -> int:
    topics = await wait_ready(args.bootstrap, args.timeout, args.pid)
    if topics is None:
        return 1
    if args.ensure_topics and not await ensure_topics(args.bootstrap, topics):
        return 1
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Wait for the local Kafka broker.")
    parser.add_argument("--bootstrap", default=default_bootstrap(), help="HOST:PORT")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds (default 90)")
    parser.add_argument("--pid", type=int, default=None, help="give up early if this pid exits")
    parser.add_argument(
        "--ensure-topics", action="store_true", help="create the AgencyOS topics if missing"
    )
    parser.add_argument("--verbose", action="store_true", help="show aiokafka's own logging")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    # aiokafka logs every refused connection at ERROR while the broker boots; hide that noise.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.CRITICAL)
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
