"""Helpers of the webhook delivery tests: settings as the test platform runs them, endpoints
and deliveries written straight to the tables, a dispatcher whose dead-letter topic is the
test's own, and waiting for a delivery's outcome."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from agencyos.common.db import Database, utcnow
from agencyos.common.events import CloudEvent
from agencyos.notification.models import WebhookEndpoint
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.deliveries import LIVE, create_delivery
from agencyos.notification.webhooks.dispatch import WebhookDispatcher
from agencyos.notification.webhooks.secrets import encrypt_secret, new_secret
from agencyos.notification.webhooks.worker import http_sender
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, InProcess

RECEIVER_NETWORK = "127.0.0.2/32"


def webhook_settings(**changes: Any) -> NotificationSettings:
    """As the test platform runs notification: plain http and 127.0.0.2 (the receiver) only,
    retries compressed to a test's time."""
    values: dict[str, Any] = {
        "webhook_allow_http": True,
        "webhook_allowed_private_networks": [RECEIVER_NETWORK],
        "webhook_retry_seconds": [0.05, 0.05, 0.05],
        "webhook_retry_jitter": 0.0,
        "webhook_timeout_seconds": 5.0,
        "webhook_poll_seconds": 0.05,
    }
    values.update(changes)
    return NotificationSettings(**values)


def dispatcher_for(
    db: Database, infra: Infra, prefix: str, settings: NotificationSettings | None = None
) -> WebhookDispatcher:
    settings = settings or webhook_settings()
    return WebhookDispatcher(
        db,
        http_sender(settings),
        settings,
        bootstrap=infra.kafka_bootstrap,
        topic_prefix=prefix,
    )


async def create_endpoint(
    db: Database,
    agency: Agency,
    url: str,
    *,
    event_types: Sequence[str] = ("*",),
    secret: str | None = None,
    previous_secret: str | None = None,
    previous_expires_at: datetime | None = None,
    enabled: bool = True,
    **fields: Any,
) -> tuple[uuid.UUID, str]:
    """An endpoint row of `agency`, as the API would save it; answers its id and secret."""
    secret = secret or new_secret()
    key = NotificationSettings().webhook_secret_key
    endpoint_id = uuid.uuid4()
    async with db.transaction(agency.id) as session:
        session.add(
            WebhookEndpoint(
                tenant_id=agency.id,
                id=endpoint_id,
                url=url,
                event_types=list(event_types),
                enabled=enabled,
                disabled_reason=None if enabled else "manual",
                secret_ciphertext=encrypt_secret(
                    secret, key=key, tenant_id=agency.id, endpoint_id=endpoint_id
                ),
                previous_secret_ciphertext=(
                    encrypt_secret(
                        previous_secret, key=key, tenant_id=agency.id, endpoint_id=endpoint_id
                    )
                    if previous_secret
                    else None
                ),
                previous_secret_expires_at=previous_expires_at,
                **fields,
            )
        )
    return endpoint_id, secret


def client_created(agency: Agency, name: str = "Acme") -> CloudEvent:
    return CloudEvent(
        source="/agencyos/crm",
        type="crm.client.created",
        dataschema="https://agencyos.dev/schemas/crm.client.created/v1",
        tenantid=agency.id,
        subject=f"clients/{uuid.uuid4()}",
        data={"client_id": str(uuid.uuid4()), "name": name},
    )


async def create_deliveries(
    db: Database,
    agency: Agency,
    endpoint_id: uuid.UUID,
    events: Sequence[CloudEvent],
    *,
    max_attempts: int = 4,
) -> list[uuid.UUID]:
    ids = []
    async with db.transaction(agency.id) as session:
        for event in events:
            delivery_id = await create_delivery(
                session,
                tenant_id=agency.id,
                endpoint_id=endpoint_id,
                envelope=event.model_dump(mode="json", exclude_none=True),
                origin=LIVE,
                max_attempts=max_attempts,
                occurred_at=event.time or utcnow(),
            )
            assert delivery_id is not None
            ids.append(delivery_id)
    return ids


async def delivery_row(in_process: InProcess, agency: Agency, delivery_id: uuid.UUID) -> Any:
    service = await in_process.service("notification")
    [row] = await service.rows(
        "SELECT * FROM webhook_deliveries WHERE id = $1", delivery_id, tenant_id=agency.id
    )
    return row


async def attempt_rows(in_process: InProcess, agency: Agency, delivery_id: uuid.UUID) -> list[Any]:
    service = await in_process.service("notification")
    return list(
        await service.rows(
            "SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt",
            delivery_id,
            tenant_id=agency.id,
        )
    )


async def endpoint_row(in_process: InProcess, agency: Agency, endpoint_id: uuid.UUID) -> Any:
    service = await in_process.service("notification")
    [row] = await service.rows(
        "SELECT * FROM webhook_endpoints WHERE id = $1", endpoint_id, tenant_id=agency.id
    )
    return row


@asynccontextmanager
async def running(dispatcher: WebhookDispatcher) -> AsyncIterator[WebhookDispatcher]:
    """The dispatcher's loop in the background for the block; stopped and drained after."""
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        await asyncio.wait_for(task, 30)


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        await asyncio.sleep(0.05)


async def settled(
    in_process: InProcess, agency: Agency, delivery_id: uuid.UUID, status: str = "succeeded"
) -> Any:
    """The delivery once it reached `status` (waiting for it)."""

    async def reached() -> bool:
        return bool((await delivery_row(in_process, agency, delivery_id))["status"] == status)

    await eventually(reached, what=f"delivery {status}")
    return await delivery_row(in_process, agency, delivery_id)
