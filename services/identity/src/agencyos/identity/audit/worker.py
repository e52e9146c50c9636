"""The `audit` worker: identity's consumer group `identity-audit` on `audit.events`, appending
every `audit.recorded` event of every service to its agency's audit log.

The common consumer runner does the rest: one transaction per event under the event's agency,
the inbox (consumer `identity-audit`) so a redelivered event has no second effect (the
record's unique `event_id` would refuse it too), retries, then the dead-letter topic
(`audit.events.dlq`). The events of one agency share a partition (keyed by agency), and the
chain head's row lock keeps seq and prev_hash right even with several writers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import ConsumerRunner, Subscription
from agencyos.common.events import CloudEvent
from agencyos.common.web import ServiceContext
from agencyos.identity.audit.service import audit_log_service

CONSUMER_NAME = "identity-audit"


async def on_audit_recorded(session: AsyncSession, event: CloudEvent) -> None:
    await audit_log_service.append(session, event)


SUBSCRIPTION = Subscription(handlers={"audit.recorded": on_audit_recorded})


def audit_runner(ctx: ServiceContext) -> ConsumerRunner:
    settings = ctx.settings
    return ConsumerRunner(
        CONSUMER_NAME,
        ctx.database(),
        settings.kafka_bootstrap,
        SUBSCRIPTION,
        max_attempts=settings.consumer_max_attempts,
        retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
        topic_prefix=settings.kafka_topic_prefix,
    )
