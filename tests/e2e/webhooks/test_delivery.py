"""Outbound webhooks through the gateway: an owner registers an endpoint, a client is created
in CRM, and the event reaches the partner's server over the network, signed so that the
reference Standard Webhooks library verifies it with the secret shown at creation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from agencyos.testing.factories import AgencySession, create_crm_client
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform
from agencyos.testing.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


async def test_a_crm_event_reaches_the_registered_endpoint_signed(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    receiver: WebhookReceiver,
) -> None:
    response = await gateway.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url("/crm"), "event_types": ["crm.client.*"]},
        headers=agency.headers,
    )
    assert response.status_code == 201, response.text
    secret = response.json()["secret"]

    client_id = await create_crm_client(platform, agency)

    [request] = await receiver.wait_for("/crm", 1, timeout=60)
    event = Webhook(secret).verify(request.body, dict(request.headers))
    assert event["type"] == "crm.client.created"
    assert event["data"]["client_id"] == str(client_id)
    assert event["tenantid"] == str(agency.agency_id)
    assert request.headers["webhook-id"] == event["id"]
    assert json.loads(request.body) == event

    async def succeeded() -> dict[str, Any] | None:
        listed = await gateway.get(
            f"/v1/webhook-endpoints/{response.json()['id']}/deliveries", headers=agency.headers
        )
        assert listed.status_code == 200, listed.text
        done = [d for d in listed.json()["items"] if d["status"] == "succeeded"]
        return done[0] if done else None

    delivery = await wait_for(succeeded, timeout=30, interval=0.2)
    assert isinstance(delivery, dict)
    assert delivery["event_id"] == event["id"]
    assert delivery["attempts"] == 1
