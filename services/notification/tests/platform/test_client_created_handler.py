"""The notification service's `crm.client.created` consumer fed through the real Kafka topic
the running consumer reads (`<prefix>crm.events`), observed through its API and database.

Ordering is what makes "nothing more happened" checkable without sleeping: every event here
is keyed by its tenant, so an agency's events share one partition and are handled in order.
Once a later "sentinel" event of the same agency has been handled, every earlier one has been.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agencyos.common.events import ClientCreated, CloudEvent, build_event
from agencyos.testing.factories import AgencySession
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import Record, TopicWriter, read_topic, topic_writer
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value


@pytest.fixture
async def notification(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("notification"), timeout=30.0) as client:
        yield client


@pytest.fixture
async def writer(platform: Platform) -> AsyncIterator[TopicWriter]:
    async with topic_writer(platform.infra.kafka_bootstrap) as started:
        yield started


@pytest.fixture
def crm_topic(platform: Platform) -> str:
    return f"{platform.topic_prefix}crm.events"


def client_created(
    agency: AgencySession,
    *,
    created_by: uuid.UUID | None = None,
    owner_id: uuid.UUID | None = None,
    company_name: str | None = None,
) -> CloudEvent:
    client_id = uuid.uuid4()
    return build_event(
        ClientCreated(
            client_id=client_id,
            company_name=company_name or f"Client {client_id.hex[:8]}",
            status="lead",
            owner_id=owner_id,
            created_by=created_by or agency.user_id,
        ),
        tenant_id=agency.agency_id,
        source_service="crm",
        subject=f"clients/{client_id}",
    )


async def notifications_of(client: httpx.AsyncClient, who: AgencySession) -> list[dict[str, Any]]:
    response = await client.get("/v1/notifications", params={"per_page": 200}, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def about(items: list[dict[str, Any]], event: CloudEvent) -> list[dict[str, Any]]:
    return [n for n in items if n["data"].get("client_id") == event.data["client_id"]]


async def wait_until_notified(
    client: httpx.AsyncClient, who: AgencySession, event: CloudEvent
) -> dict[str, Any]:
    async def found() -> list[dict[str, Any]]:
        return about(await notifications_of(client, who), event)

    items = await wait_for(found, timeout=90)
    assert isinstance(items, list)
    return items[0]


async def notification_rows(platform: Platform, event: CloudEvent) -> list[Any]:
    return await fetch_rows(
        platform.infra,
        platform.database("notification"),
        "SELECT user_id, source_event_id FROM notifications WHERE data->>'client_id' = $1",
        event.data["client_id"],
        tenant_id=event.tenantid,
        owner=True,
    )


async def inbox_count(platform: Platform, agency: AgencySession, event: CloudEvent) -> int:
    """How many times the notification consumer recorded `event` as handled."""
    count = await fetch_value(
        platform.infra,
        platform.database("notification"),
        "SELECT count(*) FROM inbox WHERE event_id = $1 AND consumer = 'notification'",
        event.id,
        tenant_id=agency.agency_id,
        owner=True,
    )
    return int(count)


class TestVisibility:
    async def test_the_gateway_lists_the_callers_notifications(
        self,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        crm_topic: str,
        agency: AgencySession,
    ) -> None:
        event = client_created(agency)

        await writer.send_event(crm_topic, event)

        await wait_until_notified(gateway, agency, event)


class TestPoisonMessages:
    @pytest.mark.parametrize(
        "template",
        [
            pytest.param("this is not json {marker}", id="not-json"),
            pytest.param(
                '{"type": "crm.client.created", "id": "marker", "data": {}}',
                id="not-a-cloudevent",
            ),
            pytest.param('["a list", "marker"]', id="json-but-not-an-object"),
        ],
    )
    async def test_an_unparseable_message_goes_to_the_dlq_and_later_events_are_handled(
        self,
        platform: Platform,
        notification: httpx.AsyncClient,
        writer: TopicWriter,
        crm_topic: str,
        agency: AgencySession,
        template: str,
    ) -> None:
        marker = uuid.uuid4().hex
        poison = template.replace("marker", marker).encode()
        # Keyed by the tenant like a real event, so it sits in the same partition as `after`.
        await writer.send(crm_topic, poison, key=str(agency.agency_id).encode())
        after = client_created(agency)
        await writer.send_event(crm_topic, after)

        await wait_until_notified(notification, agency, after)

        # Every consumer group of crm.events (work's too) dead-letters it: find notification's.
        def ours(record: Record) -> bool:
            return marker.encode() in (record.value or b"") and (
                "x-agencyos-consumer",
                b"notification",
            ) in list(record.headers)

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{crm_topic}.dlq",
            lambda records: any(ours(r) for r in records),
        )
        dead = next(r for r in records if ours(r))
        headers = {k: v.decode() for k, v in dead.headers}
        assert dead.value == poison
        assert dead.key == str(agency.agency_id).encode()
        assert headers["x-agencyos-original-topic"] == crm_topic
        assert headers["x-agencyos-consumer"] == "notification"
        assert headers["x-agencyos-error"].startswith("unparseable event")

    async def test_a_tombstone_goes_to_the_dlq_and_later_events_are_handled(
        self,
        platform: Platform,
        notification: httpx.AsyncClient,
        writer: TopicWriter,
        crm_topic: str,
        agency: AgencySession,
    ) -> None:
        before = client_created(agency)
        partition = await writer.send_event(crm_topic, before)
        key = f"tombstone-{uuid.uuid4().hex}".encode()
        # A record with no value at all, in the agency's partition, between two of its events.
        await writer.send(crm_topic, None, key=key, partition=partition)
        after = client_created(agency)
        assert await writer.send_event(crm_topic, after) == partition

        await wait_until_notified(notification, agency, after)

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{crm_topic}.dlq",
            lambda records: any(r.key == key for r in records),
        )
        dead = next(r for r in records if r.key == key)
        assert dead.value is None
        assert dict(dead.headers)["x-agencyos-error"].startswith(b"unparseable event")
        assert len(about(await notifications_of(notification, agency), before)) == 1

    async def test_an_event_its_handler_cannot_process_is_dead_lettered_with_no_effect(
        self,
        platform: Platform,
        notification: httpx.AsyncClient,
        writer: TopicWriter,
        crm_topic: str,
        agency: AgencySession,
    ) -> None:
        broken = client_created(agency)
        broken = broken.model_copy(update={"data": {**broken.data, "client_id": "not-a-uuid"}})
        await writer.send_event(crm_topic, broken)
        after = client_created(agency)
        await writer.send_event(crm_topic, after)

        await wait_until_notified(notification, agency, after)

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{crm_topic}.dlq",
            lambda records: any(str(broken.id).encode() in (r.value or b"") for r in records),
        )
        dead = next(r for r in records if str(broken.id).encode() in (r.value or b""))
        headers = {k: v.decode() for k, v in dead.headers}
        assert "ValidationError" in headers["x-agencyos-error"]
        assert dead.key == str(agency.agency_id).encode()
        inbox = await inbox_count(platform, agency, broken)
        assert inbox == 0
        assert [n["data"]["client_id"] for n in await notifications_of(notification, agency)] == [
            after.data["client_id"]
        ]
