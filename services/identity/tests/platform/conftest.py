from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.platform import Platform


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """identity's own HTTP port, called directly (no gateway in between)."""
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=30.0) as client:
        yield client
