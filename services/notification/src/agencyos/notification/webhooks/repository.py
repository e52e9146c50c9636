"""The SQL of webhook endpoints and their deliveries, as the API needs it (row-level security
keeps every query inside the caller's agency)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.notification.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from agencyos.notification.webhooks.deliveries import frozen_body


class EndpointRepository(Repository[WebhookEndpoint]):
    model = WebhookEndpoint

    def listing(self, *, enabled: bool | None = None) -> Select[Any]:
        stmt = select(WebhookEndpoint)
        if enabled is not None:
            stmt = stmt.where(WebhookEndpoint.enabled.is_(enabled))
        return stmt.order_by(WebhookEndpoint.created_at.desc(), WebhookEndpoint.id.desc())

    async def get_for_update(
        self, session: AsyncSession, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint | None:
        stmt = select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def delete(self, session: AsyncSession, endpoint: WebhookEndpoint) -> None:
        """The endpoint, and with it (foreign keys, ON DELETE CASCADE) its deliveries and
        their attempts."""
        await session.execute(
            delete(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == endpoint.tenant_id)
            .where(WebhookEndpoint.id == endpoint.id)
        )
        session.expunge(endpoint)


class DeliveryRepository(Repository[WebhookDelivery]):
    model = WebhookDelivery

    def listing(
        self,
        endpoint_id: uuid.UUID,
        *,
        status: str | None = None,
        event_type: str | None = None,
    ) -> Select[Any]:
        """The endpoint's deliveries, newest first (a replay's, made at once, newest event
        first)."""
        stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        if status is not None:
            stmt = stmt.where(WebhookDelivery.status == status)
        if event_type is not None:
            stmt = stmt.where(WebhookDelivery.event_type == event_type)
        return stmt.order_by(
            WebhookDelivery.created_at.desc(),
            WebhookDelivery.occurred_at.desc(),
            WebhookDelivery.id.desc(),
        )

    async def of_endpoint(
        self,
        session: AsyncSession,
        endpoint_id: uuid.UUID,
        delivery_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> WebhookDelivery | None:
        stmt = select(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.id == delivery_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def attempts_of(
        self, session: AsyncSession, delivery_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, list[WebhookAttempt]]:
        """Each delivery's attempts, in order."""
        found: dict[uuid.UUID, list[WebhookAttempt]] = {d: [] for d in delivery_ids}
        if not delivery_ids:
            return found
        stmt = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(list(delivery_ids)))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for attempt in (await session.execute(stmt)).scalars():
            found[attempt.delivery_id].append(attempt)
        return found


@dataclass(frozen=True)
class RecordedEvent:
    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    envelope: dict[str, Any]


async def recorded_events(
    session: AsyncSession,
    *,
    since: datetime,
    until: datetime,
    types: Sequence[str],
    limit: int,
) -> list[RecordedEvent]:
    """The agency's events in its feed that happened in [since, until) with one of `types`,
    in feed order, at most `limit`."""
    if not types:
        return []
    rows = (
        await session.execute(
            text(
                "SELECT event_id, type, occurred_at, envelope FROM feed_events "
                "WHERE occurred_at >= :since AND occurred_at < :until "
                "AND type = ANY(:types) ORDER BY seq LIMIT :limit"
            ),
            {"since": since, "until": until, "types": list(types), "limit": limit},
        )
    ).all()
    return [
        RecordedEvent(
            event_id=row.event_id, type=row.type, occurred_at=row.occurred_at, envelope=row.envelope
        )
        for row in rows
    ]


async def create_deliveries(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    events: Sequence[RecordedEvent],
    origin: str,
    max_attempts: int,
) -> int:
    """`deliveries.create_delivery` for many events at once (a replay's thousands) in one
    statement: the same rows (body frozen now, once per endpoint, event and origin), written
    in the order given. Answers how many were new."""
    if not events:
        return 0
    created = await session.execute(
        text(
            "INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, "
            "origin, occurred_at, body, status, attempts, max_attempts) "
            "SELECT :tenant, s.id, :endpoint, s.event_id, s.event_type, :origin, s.occurred_at, "
            "s.body, :status, 0, :max_attempts "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:event_ids AS uuid[]), "
            "CAST(:event_types AS text[]), CAST(:occurred AS timestamptz[]), "
            "CAST(:bodies AS text[])) WITH ORDINALITY "
            "AS s(id, event_id, event_type, occurred_at, body, n) ORDER BY s.n "
            "ON CONFLICT ON CONSTRAINT webhook_delivery_once DO NOTHING RETURNING id"
        ),
        {
            "tenant": tenant_id,
            "endpoint": endpoint_id,
            "origin": origin,
            "status": WebhookDeliveryStatus.PENDING.value,
            "max_attempts": max_attempts,
            "ids": [uuid.uuid4() for _ in events],
            "event_ids": [uuid.UUID(str(e.envelope["id"])) for e in events],
            "event_types": [str(e.envelope["type"]) for e in events],
            "occurred": [e.occurred_at for e in events],
            "bodies": [frozen_body(e.envelope) for e in events],
        },
    )
    return len(created.all())


endpoint_repository = EndpointRepository()
delivery_repository = DeliveryRepository()
