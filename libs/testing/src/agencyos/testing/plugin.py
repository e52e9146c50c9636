"""pytest fixtures shared by every package's tests."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.common.logs import configure_logging
from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.keys import TestKeys, serve_jwks
from agencyos.testing.platform import REPO_ROOT, Platform


def pytest_configure(config: pytest.Config) -> None:
    """The services running in the test's process (the in-process tier) log as they do in
    production: one JSON line per record. Left unconfigured, structlog renders exceptions with
    rich, syntax-highlighted: seconds of CPU for each logged traceback."""
    configure_logging("tests", "WARNING", json_output=True)


@pytest.fixture(scope="session")
def infra() -> Infra:
    return Infra.from_env()


@pytest.fixture(scope="session")
async def platform(infra: Infra) -> AsyncIterator[Platform]:
    """Every service and the gateway, running as real processes for the whole session."""
    # One directory per run and per xdist worker (each worker runs a platform of its own).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log_dir = REPO_ROOT / ".run" / "test-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-{worker}"
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


# --- tiers ------------------------------------------------------------------------------------
# A test that uses the `platform` fixture (every service and the gateway as processes) is of the
# platform tier and carries the `platform` marker; every other test is of the in-process tier,
# which `make test-fast` runs alone.


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "platform" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.platform)


@pytest.fixture(scope="session")
async def in_process(infra: Infra, test_keys: TestKeys, jwks_url: str) -> AsyncIterator[InProcess]:
    """This worker's in-process services and their peers' stand-ins (made on first use)."""
    running = InProcess(infra=infra, keys=test_keys, jwks_url=jwks_url)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def tenant(in_process: InProcess) -> Agency:
    """An agency of the in-process tier, with its owner as `tenant.owner`."""
    return in_process.agency()


@pytest.fixture
def other_tenant(in_process: InProcess) -> Agency:
    """A second agency, for tenant isolation tests."""
    return in_process.agency()
