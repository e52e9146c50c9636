"""What a failed delivery looks like on the dead-letter topic: the delivery, a summary of its
attempts, and the body that was sent (so it can be looked at, or re-sent, from Kafka alone)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agencyos.notification.models import WebhookAttempt, WebhookDelivery

DEAD_LETTER_TOPIC = "notification.webhooks.dead-letter"


def dead_letter_message(
    delivery: WebhookDelivery, attempts: Sequence[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "delivery": {
            "id": str(delivery.id),
            "tenant_id": str(delivery.tenant_id),
            "endpoint_id": str(delivery.endpoint_id),
            "event_id": str(delivery.event_id),
            "event_type": delivery.event_type,
            "origin": delivery.origin,
            "occurred_at": delivery.occurred_at.isoformat(),
            "attempts": delivery.attempts,
            "max_attempts": delivery.max_attempts,
            "last_status_code": delivery.last_status_code,
            "failed_at": delivery.failed_at.isoformat() if delivery.failed_at else None,
        },
        "attempts": [
            {
                "attempt": a.attempt,
                "started_at": a.started_at.isoformat(),
                "url": a.url,
                "outcome": a.outcome,
                "response_status": a.response_status,
                "latency_ms": a.latency_ms,
                "error": a.error,
            }
            for a in attempts
        ],
        "body": delivery.body,
    }
