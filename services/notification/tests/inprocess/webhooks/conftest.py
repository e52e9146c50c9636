"""What the webhook delivery tests share: notification's database as the application sees it
(emptied after each test through the `notification` fixture), a real HTTP receiver on
127.0.0.2, and a dispatcher whose dead-letter topic is the test's own (helpers: sending.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from agencyos.common.db import Database
from agencyos.notification.webhooks.dispatch import DEAD_LETTER_TOPIC, WebhookDispatcher
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import InProcess
from agencyos.testing.webhook_receiver import WebhookReceiver

from .sending import dispatcher_for


@pytest.fixture
async def webhooks_db(in_process: InProcess, notification: httpx.AsyncClient) -> Database:
    return (await in_process.service("notification")).ctx.database()


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
