"""Ingest: each event becomes one delivery per enabled endpoint of its agency subscribed to
it, once however often it is delivered, only for types partners may receive; from the real
Kafka topics with a consumer group of its own, waking the dispatcher."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agencyos.common.consumer import dlq_topic
from agencyos.common.db import Database
from agencyos.common.events import CloudEvent
from agencyos.notification.feed.recorder import Consumed, source_topics
from agencyos.notification.webhooks.deliveries import attempts_allowed
from agencyos.notification.webhooks.ingest import WebhookIngest
from agencyos.testing.feed_events import notice_event
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.kafka import topic_writer

from .sending import client_created, create_endpoint, eventually

RETRIES = [0.1, 0.2, 0.3]
URL = "https://hooks.example.com/agencyos"


def ingest_for(db: Database, infra: Infra, prefix: str = "", **extra: Any) -> WebhookIngest:
    return WebhookIngest(
        db, infra.kafka_bootstrap, retry_seconds=RETRIES, topic_prefix=prefix, **extra
    )


async def deliveries(in_process: InProcess, agency: Agency) -> list[dict[str, Any]]:
    service = await in_process.service("notification")
    rows = await service.rows(
        "SELECT * FROM webhook_deliveries ORDER BY occurred_at, created_at", tenant_id=agency.id
    )
    return [dict(r) for r in rows]


def event_of_type(agency: Agency, type_: str, **data: Any) -> CloudEvent:
    return CloudEvent(
        source="/agencyos/" + type_.split(".", 1)[0],
        type=type_,
        dataschema=f"https://agencyos.dev/schemas/{type_}/v1",
        tenantid=agency.id,
        data=data,
    )


class TestCreatingDeliveries:
    async def test_an_event_makes_one_delivery_per_subscribed_enabled_endpoint(
        self, in_process: InProcess, webhooks_db: Database, infra: Infra, tenant: Agency
    ) -> None:
        everything, _ = await create_endpoint(webhooks_db, tenant, URL, event_types=["*"])
        crm, _ = await create_endpoint(webhooks_db, tenant, URL, event_types=["crm.*"])
        exact, _ = await create_endpoint(
            webhooks_db, tenant, URL, event_types=["crm.client.created"]
        )
        await create_endpoint(webhooks_db, tenant, URL, event_types=["billing.*"])
        await create_endpoint(webhooks_db, tenant, URL, event_types=["*"], enabled=False)
        event = client_created(tenant)

        created = await ingest_for(webhooks_db, infra).ingest([Consumed(event)])

        rows = await deliveries(in_process, tenant)
        assert created == 3
        assert {r["endpoint_id"] for r in rows} == {everything, crm, exact}
        for row in rows:
            assert row["event_id"] == event.id
            assert row["event_type"] == "crm.client.created"
            assert row["origin"] == "live"
            assert row["status"] == "pending"
            assert row["max_attempts"] == attempts_allowed(RETRIES) == 4
            assert json.loads(row["body"]) == event.model_dump(mode="json", exclude_none=True)
            assert row["occurred_at"] == event.time

    async def test_the_actors_address_and_user_agent_are_never_sent(
        self, in_process: InProcess, webhooks_db: Database, infra: Infra, tenant: Agency
    ) -> None:
        await create_endpoint(webhooks_db, tenant, URL)
        event = client_created(tenant)
        event.actorip = "203.0.113.7"  # type: ignore[attr-defined]
        event.actoragent = "Mozilla/5.0"  # type: ignore[attr-defined]
        event.requestid = "req-1"  # type: ignore[attr-defined]

        await ingest_for(webhooks_db, infra).ingest([Consumed(event)])

        (row,) = await deliveries(in_process, tenant)
        body = json.loads(row["body"])
        assert "actorip" not in body
        assert "actoragent" not in body
        assert body["requestid"] == "req-1"
        assert body["id"] == str(event.id)

    async def test_an_event_delivered_again_creates_nothing_twice(
        self, in_process: InProcess, webhooks_db: Database, infra: Infra, tenant: Agency
    ) -> None:
        await create_endpoint(webhooks_db, tenant, URL)
        event = client_created(tenant)
        ingest = ingest_for(webhooks_db, infra)

        assert await ingest.ingest([Consumed(event)]) == 1
        assert await ingest.ingest([Consumed(event), Consumed(event)]) == 0

        assert len(await deliveries(in_process, tenant)) == 1

    async def test_an_agency_s_events_go_to_its_own_endpoints_only(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        ours, _ = await create_endpoint(webhooks_db, tenant, URL)
        theirs, _ = await create_endpoint(webhooks_db, other_tenant, URL)
        mine, other = client_created(tenant), client_created(other_tenant)

        await ingest_for(webhooks_db, infra).ingest([Consumed(mine), Consumed(other)])

        [our_row] = await deliveries(in_process, tenant)
        [their_row] = await deliveries(in_process, other_tenant)
        assert (our_row["endpoint_id"], our_row["event_id"]) == (ours, mine.id)
        assert (their_row["endpoint_id"], their_row["event_id"]) == (theirs, other.id)

    @pytest.mark.parametrize(
        "event_type",
        [
            "notification.notice.created",  # one person's own notification
            "identity.password_reset.requested",  # carries a token
            "identity.invitation.created",
            "crm.something.unknown",  # a type nobody decided about
        ],
    )
    async def test_types_partners_may_not_receive_make_no_delivery(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        tenant: Agency,
        event_type: str,
    ) -> None:
        await create_endpoint(webhooks_db, tenant, URL, event_types=["*"])
        event = (
            notice_event(tenant.id, uuid.uuid4())
            if event_type == "notification.notice.created"
            else event_of_type(tenant, event_type, token="secret-token")
        )

        assert await ingest_for(webhooks_db, infra).ingest([Consumed(event)]) == 0
        assert await deliveries(in_process, tenant) == []

    async def test_an_endpoint_never_receives_the_news_of_its_own_failure(
        self, in_process: InProcess, webhooks_db: Database, infra: Infra, tenant: Agency
    ) -> None:
        failing, _ = await create_endpoint(webhooks_db, tenant, URL)
        watcher, _ = await create_endpoint(webhooks_db, tenant, URL, event_types=["notification.*"])
        failed = event_of_type(
            tenant,
            "notification.webhook.failed",
            endpoint_id=str(failing),
            delivery_id=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            event_type="crm.client.created",
            attempts=9,
            last_status_code=500,
        )

        await ingest_for(webhooks_db, infra).ingest([Consumed(failed)])

        [row] = await deliveries(in_process, tenant)
        assert row["endpoint_id"] == watcher


@pytest.fixture
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    prefix = f"test-whin-{uuid.uuid4().hex[:8]}."
    await infra.create_topics(
        [*source_topics(prefix), *(dlq_topic(t) for t in source_topics(prefix))]
    )
    try:
        yield prefix
    finally:
        await infra.delete_topics(prefix)


class TestFromKafka:
    async def test_events_on_the_topics_become_deliveries_and_wake_the_dispatcher(
        self,
        in_process: InProcess,
        webhooks_db: Database,
        infra: Infra,
        topic_prefix: str,
        tenant: Agency,
    ) -> None:
        endpoint_id, _ = await create_endpoint(webhooks_db, tenant, URL)
        woken = asyncio.Event()
        ingest = ingest_for(webhooks_db, infra, topic_prefix, on_created=woken.set)
        first, second = client_created(tenant, "First"), client_created(tenant, "Second")
        async with topic_writer(infra.kafka_bootstrap) as writer:
            await writer.send_event(f"{topic_prefix}crm.events", first)
            await writer.send_event(f"{topic_prefix}crm.events", second)
            await writer.send_event(f"{topic_prefix}crm.events", first)  # a redelivery

        task = asyncio.create_task(ingest.run())
        try:

            async def both() -> bool:
                return len(await deliveries(in_process, tenant)) >= 2

            await eventually(both, what="two deliveries")
            await asyncio.wait_for(woken.wait(), 10)
        finally:
            ingest.stop()
            await asyncio.wait_for(task, 30)

        rows = await deliveries(in_process, tenant)
        assert [r["event_id"] for r in rows] == [first.id, second.id]
        assert {r["endpoint_id"] for r in rows} == {endpoint_id}
