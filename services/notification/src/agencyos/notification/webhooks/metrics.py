"""What the webhooks worker reports to Prometheus."""

from prometheus_client import Counter, Gauge, Histogram

from agencyos.common.metrics import LATENCY_BUCKETS

WEBHOOK_DELIVERIES = Counter(
    "agencyos_webhook_deliveries_total",
    "Webhook attempts by what they made of their delivery: succeeded, retried (failed, "
    "another attempt due), failed (for good)",
    ["outcome"],
)
WEBHOOK_ATTEMPT_LATENCY = Histogram(
    "agencyos_webhook_attempt_seconds",
    "One webhook attempt, from signing to the (capped) answer read or the error, by outcome "
    "(succeeded, failed, refused)",
    ["outcome"],
    buckets=LATENCY_BUCKETS,
)
WEBHOOK_BACKLOG = Gauge(
    "agencyos_webhook_due_backlog",
    "Webhook deliveries due now and not in flight, of every agency (enabled endpoints)",
)
WEBHOOK_DEAD_LETTERED = Counter(
    "agencyos_webhook_dead_lettered_total",
    "Failed webhook deliveries written to the dead-letter topic",
)
