"""Fixtures of the time tests: a gRPC stub of the time service, and `Books` for its invoicing
calls."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from agencyos.protos.time.v1 import time_pb2_grpc
from agencyos.testing.factories import AgencySession
from agencyos.testing.platform import Platform
from agencyos.testing.time_invoicing import Books, new_books


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[time_pb2_grpc.TimeServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("time")) as channel:
        yield time_pb2_grpc.TimeServiceStub(channel)


@pytest.fixture
async def books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    return await new_books(platform, gateway, agency)
