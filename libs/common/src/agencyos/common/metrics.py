"""Prometheus metrics every service exposes at /metrics (names fixed: dashboards use them)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.pool import Pool

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "agencyos_http_requests_total",
    "HTTP requests answered, by route template and status",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "agencyos_http_request_duration_seconds",
    "HTTP request handling time",
    ["service", "method", "route"],
    buckets=LATENCY_BUCKETS,
)
GRPC_REQUESTS = Counter(
    "agencyos_grpc_requests_total",
    "gRPC calls served, by method and status code",
    ["service", "grpc_method", "code"],
)
GRPC_LATENCY = Histogram(
    "agencyos_grpc_request_duration_seconds",
    "gRPC call handling time",
    ["service", "grpc_method"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_LAG = Gauge(
    "agencyos_kafka_consumer_lag",
    "Messages behind the partition's end offset, per partition this process consumes now "
    "(a partition's series goes when it is revoked or the consumer stops)",
    ["service", "consumer", "topic", "partition"],
)
KAFKA_LAST_POLL = Gauge(
    "agencyos_kafka_consumer_last_poll_timestamp_seconds",
    "When the consumer last came back for more records (Unix time): a consumer stuck in a "
    "handler or a rebalance stops advancing it while its process still answers",
    ["service", "consumer"],
)
KAFKA_HANDLING = Histogram(
    "agencyos_kafka_handling_duration_seconds",
    "Time to handle one consumed event, including its transaction",
    ["service", "event_type"],
    buckets=LATENCY_BUCKETS,
)
KAFKA_HANDLED = Counter(
    "agencyos_kafka_events_handled_total",
    "Consumed events by outcome: ok, duplicate, retried, dead_lettered",
    ["service", "event_type", "outcome"],
)
OUTBOX_BACKLOG = Gauge(
    "agencyos_outbox_backlog",
    "Outbox rows not yet published to Kafka",
    ["service"],
)
KAFKA_REACHABLE = Gauge(
    "agencyos_kafka_reachable",
    "1 when the outbox relay last reached Kafka, 0 when it could not (readiness does not "
    "depend on Kafka: the outbox rides out an outage; this gauge and its alert tell)",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "agencyos_outbox_published_total",
    "Outbox rows published to Kafka",
    ["service"],
)


EVENTS_PUBLISHED = Counter(
    "agencyos_events_published_total",
    "Domain events the outbox relay published to Kafka, by type (the business dashboard "
    "counts signups, invoices sent and paid, payment failures from it)",
    ["service", "event_type"],
)
EVENT_LOOP_LAG = Histogram(
    "agencyos_event_loop_lag_seconds",
    "How late the event loop ran a timer due every half second: time spent in code that "
    "does not yield (CPU-bound work, blocking calls) delays every request of the process",
    ["service"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
EVENT_LOOP_INTERVAL_SECONDS = 0.5


class PoolCollector(Collector):
    """`agencyos_db_pool_connections{service, state}`: the connections of each service's
    database pools in this process, `in_use` (checked out) and `idle`, read at scrape time."""

    NAME = "agencyos_db_pool_connections"
    HELP = "Database connections of the process's pools: in_use (checked out) and idle"

    def __init__(self) -> None:
        self._pools: dict[str, weakref.WeakSet[Pool]] = {}

    def watch(self, service: str, pool: Pool) -> None:
        self._pools.setdefault(service, weakref.WeakSet()).add(pool)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self.NAME, self.HELP, labels=["service", "state"])

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.NAME, self.HELP, labels=["service", "state"])
        for service, pools in sorted(self._pools.items()):
            live = list(pools)
            in_use = sum(pool.checkedout() for pool in live)  # type: ignore[attr-defined]
            idle = sum(pool.checkedin() for pool in live)  # type: ignore[attr-defined]
            family.add_metric([service, "in_use"], in_use)
            family.add_metric([service, "idle"], idle)
        yield family


DB_POOLS = PoolCollector()
REGISTRY.register(DB_POOLS)


async def watch_event_loop(service: str) -> None:
    """Observe the event loop's lag until cancelled (a task of each process's app)."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + EVENT_LOOP_INTERVAL_SECONDS
        await asyncio.sleep(EVENT_LOOP_INTERVAL_SECONDS)
        EVENT_LOOP_LAG.labels(service).observe(max(0.0, loop.time() - due))


def render_latest() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
