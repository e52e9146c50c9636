"""Fixtures of the gateway tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from agencyos.common.testing.platform import redis_url


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the local stack's Redis."""
    client = Redis.from_url(redis_url())
    yield client
    await client.aclose()
