from __future__ import annotations

import httpx
import pytest

from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import join, seed

from .support import Automations, RecordingPeers, make_engine


@pytest.fixture
def peers() -> RecordingPeers:
    return RecordingPeers()


@pytest.fixture
async def automations(
    in_process: InProcess, notification: httpx.AsyncClient, peers: RecordingPeers
) -> Automations:
    """The engine over notification's database (its tables emptied after the test), with the
    peers' stand-in and no waits between retries."""
    service = await in_process.service("notification")
    engine, runner = make_engine(in_process, service.ctx.database(), peers)
    return Automations(in_process, engine, runner, peers)


@pytest.fixture
async def manager(in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency) -> Caller:
    """A manager of the agency whom notification knows (and its owner, known too)."""
    await seed(in_process, tenant.owner)
    return await join(in_process, tenant, "manager")
