"""Prometheus metrics every service exposes at /metrics (names fixed: dashboards use them)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

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


def render_latest() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
