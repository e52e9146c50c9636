"""An endpoint that has failed everything for five days is disabled, and the agency's owners
hear of it in the app and by email, through the whole platform. Five days are not waited for:
the endpoint's `failing_since` is moved back in notification's database, as if its failures
had begun then; the next failed attempt decides."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, create_crm_client
from agencyos.testing.inbox import one_email, wait_for_notice
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

pytestmark = pytest.mark.e2e

ENDPOINTS = "/v1/webhook-endpoints"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def endpoint_of(
    gateway: httpx.AsyncClient, who: AgencySession, endpoint_id: str
) -> dict[str, Any]:
    response = await gateway.get(f"{ENDPOINTS}/{endpoint_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_an_endpoint_failing_for_five_days_is_disabled_and_the_owners_told(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    receiver: WebhookReceiver,
    mailpit: Mailpit,
) -> None:
    receiver.answer("/broken", Answer(status=500, body=b"boom"))
    created = await gateway.post(
        ENDPOINTS,
        json={"url": receiver.url("/broken"), "event_types": ["crm.client.*"]},
        headers=agency.headers,
    )
    assert created.status_code == 201, created.text
    endpoint_id = created.json()["id"]

    # a first failure starts the clock
    await create_crm_client(platform, agency)
    await receiver.wait_for("/broken", 1, timeout=60)

    async def failing() -> str | None:
        since: str | None = (await endpoint_of(gateway, agency, endpoint_id))["failing_since"]
        return since

    assert await wait_for(failing, timeout=30)
    still = await endpoint_of(gateway, agency, endpoint_id)
    assert still["enabled"] is True

    # as if it had been failing for five days and a minute
    moved = await fetch_value(
        platform.infra,
        platform.database("notification"),
        "UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 RETURNING id",
        datetime.now(UTC) - timedelta(days=5, minutes=1),
        endpoint_id,
        tenant_id=agency.agency_id,
    )
    assert moved is not None

    async def disabled() -> dict[str, Any] | None:
        found = await endpoint_of(gateway, agency, endpoint_id)
        return found if not found["enabled"] else None

    # the next attempt (a retry, or the next event's first) fails, and that decides
    await create_crm_client(platform, agency)
    found = await wait_for(disabled, timeout=60, interval=0.2)
    assert isinstance(found, dict)
    assert found["disabled_reason"] == "failing"
    assert found["disabled_at"] is not None

    notice = await wait_for_notice(
        gateway,
        agency,
        "webhook.disabled",
        lambda n: n["link"] == f"{ENDPOINTS}/{endpoint_id}",
    )
    assert receiver.url("/broken") in notice["title"]
    message = await one_email(mailpit, agency.email, "Webhook endpoint disabled")
    assert receiver.url("/broken") in message.subject + message.text

    # nothing more is sent to it until someone enables it again
    sent = len(receiver.received("/broken"))
    await create_crm_client(platform, agency)
    enabled = await gateway.post(f"{ENDPOINTS}/{endpoint_id}/enable", headers=agency.headers)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["failing_since"] is None
    receiver.answer("/broken", Answer(status=200))
    await receiver.wait_for("/broken", sent + 1, timeout=60)
