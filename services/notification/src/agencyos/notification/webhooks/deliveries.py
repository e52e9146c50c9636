"""Creating deliveries: one event for one endpoint, its body frozen now (the CloudEvent as it
was when the event happened, never re-read when sent). Whoever creates them (the ingesting
consumer, a replay, a test ping, an automation) goes through here; the dispatcher sends them.

`webhook-id` is the event id on every attempt of every delivery of that event, replays
included; `origin` keeps a replay's row apart from the live one (`live`, `test`,
`replay:<id>`, `automation:<run id>`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.actor_context import ACTOR_AGENT_EXTENSION, ACTOR_IP_EXTENSION
from agencyos.notification.feed.catalog import RULES
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.models import WebhookDelivery, WebhookDeliveryStatus

PING_TYPE = "webhook.ping"
LIVE = "live"
TEST = "test"


def deliverable(event_type: str) -> bool:
    """Whether partners may receive events of this type at all: the feed's catalog decides
    (never a type that carries a secret, nor anyone's personal notifications)."""
    if event_type == PING_TYPE:
        return True
    rule = RULES.get(event_type)
    return rule is not None and not rule.personal


def deliverable_types() -> list[str]:
    return sorted(t for t in RULES if deliverable(t))


def subscribed(event_types: list[str], event_type: str) -> bool:
    """Whether an endpoint subscribed to `event_types` (exact types or `prefix.*`, or `*`)
    receives `event_type`. The ping goes to every endpoint that asks for one."""
    if event_type == PING_TYPE:
        return True
    return TypeFilter.parse(",".join(event_types) or "*").matches(event_type)


# Who did it, where from: personal data kept for the audit log, never sent to an endpoint.
PRIVATE_EXTENSIONS = frozenset({ACTOR_IP_EXTENSION, ACTOR_AGENT_EXTENSION})


def frozen_body(envelope: Mapping[str, Any]) -> str:
    """The exact bytes sent and signed: the CloudEvent's JSON, compact, as it is now (without
    the actor's IP address and user agent)."""
    public = {k: v for k, v in envelope.items() if k not in PRIVATE_EXTENSIONS}
    return json.dumps(public, separators=(",", ":"), ensure_ascii=False, default=str)


async def create_delivery(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    envelope: Mapping[str, Any],
    origin: str,
    max_attempts: int,
    occurred_at: datetime,
) -> uuid.UUID | None:
    """Queue `envelope` for the endpoint in the caller's transaction, once per (endpoint,
    event, origin): answers the new delivery's id, or None when that one already exists."""
    stmt = (
        insert(WebhookDelivery)
        .values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            endpoint_id=endpoint_id,
            event_id=uuid.UUID(str(envelope["id"])),
            event_type=str(envelope["type"]),
            origin=origin,
            occurred_at=occurred_at,
            body=frozen_body(envelope),
            status=WebhookDeliveryStatus.PENDING.value,
            attempts=0,
            max_attempts=max_attempts,
        )
        .on_conflict_do_nothing(constraint="webhook_delivery_once")
        .returning(WebhookDelivery.id)
    )
    row = (await session.execute(stmt)).first()
    return row[0] if row is not None else None


def attempts_allowed(retry_seconds: list[float]) -> int:
    """The first attempt, and one after each wait of the schedule."""
    return 1 + len(retry_seconds)
