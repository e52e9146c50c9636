"""What the webhook tests share: notification's database as the application sees it
(row-level security applies), its settings (a test may loosen the destination policy for
itself), and making endpoints, deliveries, attempts and recorded feed events through the API;
for the delivery tests, a real HTTP receiver on 127.0.0.2 and a dispatcher whose dead-letter
topic is the test's own (their helpers: sending.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from agencyos.common.db import Database, utcnow
from agencyos.common.events import CloudEvent
from agencyos.notification.feed.store import describe, record
from agencyos.notification.models import WebhookAttempt, WebhookDelivery
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.dead_letters import DEAD_LETTER_TOPIC
from agencyos.notification.webhooks.deliveries import create_delivery
from agencyos.notification.webhooks.dispatch import WebhookDispatcher
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.webhook_receiver import WebhookReceiver

from .sending import dispatcher_for

ENDPOINTS = "/v1/webhook-endpoints"
PUBLIC_URL = "https://hooks.example.com/agencyos"


@pytest.fixture
async def webhooks_db(in_process: InProcess, notification: httpx.AsyncClient) -> Database:
    return (await in_process.service("notification")).ctx.database()


@pytest.fixture
async def notification_settings(
    in_process: InProcess, notification: httpx.AsyncClient
) -> AsyncIterator[NotificationSettings]:
    """The running service's settings; whatever a test changes is put back after it."""
    settings = (await in_process.service("notification")).settings
    assert isinstance(settings, NotificationSettings)
    saved = settings.model_dump()
    yield settings
    for name, value in saved.items():
        setattr(settings, name, value)


async def create_endpoint(
    client: httpx.AsyncClient, caller: Caller | Agency, **fields: Any
) -> dict[str, Any]:
    who = caller.owner if isinstance(caller, Agency) else caller
    body = {"url": PUBLIC_URL, "event_types": ["billing.invoice.*"], **fields}
    response = await client.post(ENDPOINTS, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def ping_envelope(tenant_id: uuid.UUID, event_type: str = "billing.invoice.paid") -> dict[str, Any]:
    event = CloudEvent(
        source="/agencyos/billing",
        type=event_type,
        dataschema=f"https://agencyos.dev/schemas/events/{event_type}/v1",
        tenantid=tenant_id,
        data={"invoice_id": str(uuid.uuid4())},
    )
    return event.model_dump(mode="json", exclude_none=True)


async def add_delivery(
    db: Database,
    agency: Agency,
    endpoint_id: str,
    *,
    status: str = "pending",
    attempts: int = 0,
    event_type: str = "billing.invoice.paid",
    attempt_rows: int = 0,
) -> uuid.UUID:
    """A delivery of a made-up event for the endpoint, in `status` after `attempts`, with
    `attempt_rows` recorded attempts (the last answered 500)."""
    envelope = ping_envelope(agency.id, event_type)
    async with db.transaction(agency.id) as session:
        delivery_id = await create_delivery(
            session,
            tenant_id=agency.id,
            endpoint_id=uuid.UUID(endpoint_id),
            envelope=envelope,
            origin="live",
            max_attempts=9,
            occurred_at=utcnow(),
        )
        assert delivery_id is not None
        delivery = await session.get(WebhookDelivery, (agency.id, delivery_id))
        assert delivery is not None
        delivery.status = status
        delivery.attempts = attempts
        if status == "failed":
            delivery.failed_at = utcnow()
            delivery.last_status_code = 500
        if status == "succeeded":
            delivery.succeeded_at = utcnow()
            delivery.last_status_code = 200
        for number in range(1, attempt_rows + 1):
            session.add(
                WebhookAttempt(
                    tenant_id=agency.id,
                    delivery_id=delivery_id,
                    endpoint_id=uuid.UUID(endpoint_id),
                    attempt=number,
                    started_at=utcnow(),
                    url=PUBLIC_URL,
                    request_headers={
                        "webhook-id": envelope["id"],
                        "content-type": "application/json",
                    },
                    response_status=500,
                    response_body="oops",
                    latency_ms=12,
                    outcome="failed",
                    error=None,
                )
            )
    return delivery_id


async def record_events(db: Database, agency: Agency, events: list[CloudEvent]) -> None:
    """Record `events` in the agency's feed, as the feed recorder does."""
    async with db.transaction(agency.id) as session:
        entries = [describe(e) for e in events]
        await record(session, agency.id, [e for e in entries if e is not None])


def at(event: CloudEvent, when: datetime) -> CloudEvent:
    return event.model_copy(update={"time": when})


# --- delivery ---------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


@pytest.fixture
async def dead_letter_prefix(infra: Infra) -> AsyncIterator[str]:
    prefix = f"test-wh-{uuid.uuid4().hex[:8]}."
    await infra.create_topics([prefix + DEAD_LETTER_TOPIC])
    try:
        yield prefix
    finally:
        await infra.delete_topics(prefix)


@pytest.fixture
def dispatcher(webhooks_db: Database, infra: Infra, dead_letter_prefix: str) -> WebhookDispatcher:
    return dispatcher_for(webhooks_db, infra, dead_letter_prefix)
