"""Outbound webhooks when the partner's side goes wrong, through the whole platform (gateway,
CRM's events over Kafka, notification's webhooks worker, a real HTTP receiver): the full retry
schedule (compressed in the test platform) with one `webhook-id` throughout, then the dead
letter and the failure event; a 410 disabling the endpoint at once; a redirect towards a
private address refused; one endpoint that hangs never holding back another's deliveries;
and a URL naming this machine refused when it is saved."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from agencyos.testing.factories import AgencySession, create_crm_client
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.webhook_receiver import Answer, WebhookReceiver

pytestmark = pytest.mark.e2e

ENDPOINTS = "/v1/webhook-endpoints"
# the test platform's schedule: the first attempt, then one after each of 8 waits
ATTEMPTS = 9


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


async def create_endpoint(
    gateway: httpx.AsyncClient, who: AgencySession, url: str, **fields: Any
) -> dict[str, Any]:
    response = await gateway.post(
        ENDPOINTS, json={"url": url, "event_types": ["crm.client.*"], **fields}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def deliveries(
    gateway: httpx.AsyncClient, who: AgencySession, endpoint_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(f"{ENDPOINTS}/{endpoint_id}/deliveries", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def finished_delivery(
    gateway: httpx.AsyncClient, who: AgencySession, endpoint_id: str, status: str
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        found = [d for d in await deliveries(gateway, who, endpoint_id) if d["status"] == status]
        return found[0] if found else None

    found = await wait_for(check, timeout=60, interval=0.2)
    assert isinstance(found, dict)
    return found


class TestRetries:
    async def test_every_attempt_carries_the_same_id_then_the_delivery_is_dead_lettered(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        receiver: WebhookReceiver,
    ) -> None:
        receiver.answer("/down", Answer(status=503, body=b"maintenance"))
        endpoint = await create_endpoint(gateway, agency, receiver.url("/down"))

        client_id = await create_crm_client(platform, agency)

        requests = await receiver.wait_for("/down", ATTEMPTS, timeout=60)
        failed = await finished_delivery(gateway, agency, endpoint["id"], "failed")
        # every attempt is the same event, with one id, each freshly signed
        assert len({r.headers["webhook-id"] for r in requests}) == 1
        assert {r.body for r in requests} == {requests[0].body}
        events = [Webhook(endpoint["secret"]).verify(r.body, dict(r.headers)) for r in requests]
        assert events[0]["data"]["client_id"] == str(client_id)
        assert failed["event_id"] == requests[0].headers["webhook-id"]
        assert failed["attempts"] == failed["max_attempts"] == ATTEMPTS
        assert failed["next_attempt_at"] is None
        assert [a["attempt"] for a in failed["attempts_detail"]] == list(range(1, ATTEMPTS + 1))
        assert {a["response_status"] for a in failed["attempts_detail"]} == {503}
        assert {a["response_body"] for a in failed["attempts_detail"]} == {"maintenance"}
        # waits grow between the attempts (0.2 s up to 1 s here; 5 s up to 20 h by default)
        gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(requests)]
        assert sum(gaps[-3:]) > sum(gaps[:3])

        topic = f"{platform.topic_prefix}notification.webhooks.dead-letter"

        def dead_lettered(records: list[Any]) -> bool:
            return any(
                json.loads(r.value)["delivery"]["id"] == failed["id"] for r in records if r.value
            )

        records = await read_topic(platform.infra.kafka_bootstrap, topic, dead_lettered, timeout=60)
        [letter] = [
            json.loads(r.value)
            for r in records
            if r.value and json.loads(r.value)["delivery"]["id"] == failed["id"]
        ]
        assert letter["delivery"]["event_id"] == failed["event_id"]
        assert letter["delivery"]["tenant_id"] == str(agency.agency_id)
        assert len(letter["attempts"]) == ATTEMPTS
        assert json.loads(letter["body"]) == events[0]

        # and it stays visible: the delivery says when it was dead-lettered, and the agency's
        # feed tells of the failure
        async def noted() -> bool:
            again = await finished_delivery(gateway, agency, endpoint["id"], "failed")
            return again["dead_lettered_at"] is not None

        assert await wait_for(noted, timeout=30)

        async def failure_event() -> list[dict[str, Any]] | None:
            response = await gateway.get(
                "/v1/events", params={"types": "notification.webhook.*"}, headers=agency.headers
            )
            assert response.status_code == 200, response.text
            found = [
                e for e in response.json()["items"] if e["type"] == "notification.webhook.failed"
            ]
            return found or None

        found = await wait_for(failure_event, timeout=30)
        assert isinstance(found, list)
        assert found[0]["data"]["delivery_id"] == failed["id"]

    async def test_a_410_disables_the_endpoint_at_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        receiver: WebhookReceiver,
    ) -> None:
        receiver.answer("/gone", Answer(status=410, body=b"unsubscribed"))
        endpoint = await create_endpoint(gateway, agency, receiver.url("/gone"))

        await create_crm_client(platform, agency)

        failed = await finished_delivery(gateway, agency, endpoint["id"], "failed")
        assert failed["attempts"] == 1
        read = await gateway.get(f"{ENDPOINTS}/{endpoint['id']}", headers=agency.headers)
        assert read.status_code == 200, read.text
        assert (read.json()["enabled"], read.json()["disabled_reason"]) == (False, "gone")
        # nothing more is sent to it
        await create_crm_client(platform, agency)
        assert len(receiver.received("/gone")) == 1


class TestSafety:
    async def test_a_redirect_towards_this_machine_is_refused_and_recorded(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        receiver: WebhookReceiver,
    ) -> None:
        # a real server on 127.0.0.1: what a redirect would reach if it were followed
        with WebhookReceiver(host="127.0.0.1") as inside:
            receiver.answer("/moved", Answer(status=307, location=inside.url("/admin"), body=b""))
            endpoint = await create_endpoint(gateway, agency, receiver.url("/moved"))

            await create_crm_client(platform, agency)

            async def refused() -> dict[str, Any] | None:
                for delivery in await deliveries(gateway, agency, endpoint["id"]):
                    outcomes = [a["outcome"] for a in delivery["attempts_detail"]]
                    if "refused" in outcomes:
                        return delivery
                return None

            delivery = await wait_for(refused, timeout=60, interval=0.2)
            assert isinstance(delivery, dict)
            attempt = delivery["attempts_detail"][0]
            assert "127.0.0.1" in (attempt["error"] or "")
            assert inside.received() == []

    @pytest.mark.parametrize(
        "url",
        [
            "http://localhost:8080/hook",
            "http://127.0.0.1:8080/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/hook",
            "http://10.0.0.7/hook",
        ],
    )
    async def test_a_url_inside_is_refused_when_saved(
        self, gateway: httpx.AsyncClient, agency: AgencySession, url: str
    ) -> None:
        response = await gateway.post(
            ENDPOINTS, json={"url": url, "event_types": ["*"]}, headers=agency.headers
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "url" in json.dumps(response.json()["errors"])


class TestIsolation:
    async def test_an_endpoint_that_hangs_does_not_hold_back_another(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        receiver: WebhookReceiver,
    ) -> None:
        # answers only after 4 s (the platform's timeout is 5 s): one delivery at a time
        receiver.answer("/slow", Answer(delay=4.0))
        slow = await create_endpoint(gateway, agency, receiver.url("/slow"))
        await create_endpoint(gateway, agency, receiver.url("/fast"))

        for _ in range(4):
            await create_crm_client(platform, agency)

        fast_requests = await receiver.wait_for("/fast", 4, timeout=60)
        # every one of the fast endpoint's deliveries arrived while the slow one was still
        # working through its first two
        assert len(receiver.received("/slow")) <= 2
        assert len({r.headers["webhook-id"] for r in fast_requests}) == 4
        pending = [
            d for d in await deliveries(gateway, agency, slow["id"]) if d["status"] != "succeeded"
        ]
        assert len(pending) >= 2
