"""pytest fixtures shared by every package's tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.infra import Infra
from agencyos.testing.keys import TestKeys, serve_jwks
from agencyos.testing.platform import REPO_ROOT, Platform


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra.from_env()


@pytest.fixture(scope="session")
async def platform(infra: Infra) -> AsyncIterator[Platform]:
    """Every service and the gateway, running as real processes for the whole session."""
    log_dir = REPO_ROOT / ".run" / "test-logs" / time.strftime("%Y%m%d-%H%M%S")
    running = Platform(infra=infra, log_dir=log_dir)
    try:
        await running.start()
    except BaseException:
        await running.stop()
        raise
    yield running
    await running.stop()


@pytest.fixture
async def gateway(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30.0) as client:
        yield client


@pytest.fixture
async def agency(gateway: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(gateway)


@pytest.fixture
async def other_agency(gateway: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(gateway)


@pytest.fixture(scope="session")
def test_keys() -> TestKeys:
    return TestKeys()


@pytest.fixture(scope="session")
async def jwks_url(test_keys: TestKeys) -> AsyncIterator[str]:
    async with serve_jwks(test_keys) as url:
        yield url
