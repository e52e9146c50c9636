"""Fixtures of the CRM tests: a topic writer and a client of the agency (in EUR)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession
from agencyos.testing.kafka import TopicWriter, topic_writer
from agencyos.testing.platform import Platform


@pytest.fixture
async def writer(platform: Platform) -> AsyncIterator[TopicWriter]:
    async with topic_writer(platform.infra.kafka_bootstrap) as started:
        yield started


@pytest.fixture
async def client(gateway: httpx.AsyncClient, agency: AgencySession) -> dict[str, Any]:
    return await create_client(gateway, agency, currency="EUR")
