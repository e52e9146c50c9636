"""The live stream in-process: notification's app (its own context, reading a feed topic of
this run's own) over a transport that streams, its hub reading real Kafka, its feed in the
test worker's notification database. Tests record entries and publish them to the topic as
the recorder does."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agencyos.common.events import CloudEvent, ProjectState
from agencyos.common.web import ServiceContext
from agencyos.notification.app import build_app
from agencyos.notification.directory.projects import project_repository
from agencyos.notification.feed import store
from agencyos.notification.feed.recorder import FEED_TOPIC
from agencyos.notification.feed.stream.hub import StreamHub
from agencyos.notification.feed.visibility import FeedEntry
from agencyos.notification.settings import NotificationSettings
from agencyos.testing.feed_events import publish_entries
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import InProcess, ServiceInProcess
from agencyos.testing.kafka import TopicWriter, topic_writer
from agencyos.testing.sse import StreamingASGITransport


@dataclass
class StreamRig:
    service: ServiceInProcess
    settings: NotificationSettings
    app: FastAPI
    http: httpx.AsyncClient
    writer: TopicWriter
    topic: str
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def hub(self) -> StreamHub:
        hub: StreamHub = self.app.state.stream_hub
        return hub

    def tune(self, **values: Any) -> None:
        """Change stream settings for this test (put back after it)."""
        for name, value in values.items():
            self.defaults.setdefault(name, getattr(self.settings, name))
            setattr(self.settings, name, value)

    async def record(
        self,
        tenant_id: uuid.UUID,
        *events: CloudEvent,
        publish: bool = True,
        project_clients: dict[uuid.UUID, uuid.UUID] | None = None,
    ) -> list[FeedEntry]:
        """Record `events` in the feed (one transaction), then publish them, as the recorder
        does (unless `publish` is false: a lost publish)."""
        entries = []
        for event in events:
            project = event.data.get("project_id")
            client = (project_clients or {}).get(uuid.UUID(project)) if project else None
            entry = store.describe(event, project_client_id=client)
            assert entry is not None, f"the feed does not keep {event.type}"
            entries.append(entry)
        async with self.service.ctx.database().transaction(tenant_id) as session:
            recorded = await store.record(session, tenant_id, entries)
        if publish:
            await self.publish(recorded)
        return recorded

    async def publish(self, entries: Sequence[FeedEntry]) -> None:
        await publish_entries(self.writer, self.topic, entries)

    async def project(
        self, tenant_id: uuid.UUID, project_id: uuid.UUID, *members: uuid.UUID
    ) -> None:
        """notification's read model of work's projects: `members` on `project_id`."""
        from datetime import UTC, datetime

        state = ProjectState(
            name="A project",
            client_id=None,
            status="active",
            billing_type="hourly",
            hourly_rate_cents=None,
            currency="EUR",
            member_ids=list(members),
            changed_at=datetime.now(UTC),
        )
        async with self.service.ctx.database().transaction(tenant_id) as session:
            await project_repository.apply(session, tenant_id, project_id, state)


@pytest.fixture(scope="session")
async def stream_rig(in_process: InProcess, infra: Infra) -> AsyncIterator[StreamRig]:
    service = await in_process.service("notification")
    prefix = f"test-{uuid.uuid4().hex[:8]}."
    topic = prefix + FEED_TOPIC
    await infra.create_topics([topic], partitions=3)
    assert isinstance(service.settings, NotificationSettings)
    settings = service.settings.model_copy(update={"kafka_topic_prefix": prefix})
    ctx = ServiceContext("notification", settings)
    app = build_app(ctx)
    try:
        async with (
            httpx.AsyncClient(
                transport=StreamingASGITransport(app), base_url="http://notification"
            ) as http,
            topic_writer(infra.kafka_bootstrap) as writer,
            app.router.lifespan_context(app),
        ):
            yield StreamRig(service, settings, app, http, writer, topic)
    finally:
        await infra.delete_topics(prefix)


@pytest.fixture
async def stream(stream_rig: StreamRig) -> AsyncIterator[StreamRig]:
    try:
        yield stream_rig
    finally:
        for name, value in stream_rig.defaults.items():
            setattr(stream_rig.settings, name, value)
        stream_rig.defaults.clear()
        await stream_rig.service.reset()


def cursors(events: Sequence[Any]) -> list[str]:
    return [e.id for e in events]


def data(event: Any) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(event.data)
    return value
