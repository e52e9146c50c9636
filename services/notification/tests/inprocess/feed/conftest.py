"""The feed's in-process tests: notification's database (emptied after each test through the
`notification` fixture), a recorder over it, and, for what needs Kafka, topics of the test's
own (a prefix of its own, deleted afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.common.consumer import dlq_topic
from agencyos.common.db import Database
from agencyos.notification.feed.recorder import FEED_TOPIC, FeedRecorder, source_topics
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import InProcess


@pytest.fixture
async def feed_db(in_process: InProcess, notification: httpx.AsyncClient) -> Database:
    return (await in_process.service("notification")).ctx.database()


@pytest.fixture
def recorder(feed_db: Database, infra: Infra) -> FeedRecorder:
    return FeedRecorder(feed_db, infra.kafka_bootstrap, retry_backoff_seconds=0.01)


@pytest.fixture
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    """A prefix of this test's own, with every source topic and the feed topic made under it."""
    prefix = f"test-feed-{uuid.uuid4().hex[:8]}."
    await infra.create_topics(
        [
            *source_topics(prefix),
            *(dlq_topic(t) for t in source_topics(prefix)),
            prefix + FEED_TOPIC,
        ],
        partitions=3,
    )
    try:
        yield prefix
    finally:
        await infra.delete_topics(prefix)
