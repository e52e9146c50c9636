"""The in-process tier of work: its app through httpx.ASGITransport, its gRPC servicer on a
port of this process, its own database (cloned from the migrated template, emptied after each
test), identity and CRM as typed stand-ins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2_grpc
from agencyos.testing.inprocess import Agency, Caller, InProcess, service_client
from agencyos.testing.sql import fetch_rows

work = service_client("work")


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner


@pytest.fixture(scope="session")
async def work_grpc_target(in_process: InProcess) -> str:
    """work's own gRPC servicer, served in this process over its database (as `rpc.py` wires
    it in production: the same interceptor verifying the caller's token)."""
    return await in_process.grpc_target("work")


@pytest.fixture
async def stub(
    work: httpx.AsyncClient, work_grpc_target: str
) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    """A WorkService stub (asking for `work` too, so the tables are emptied after the test)."""
    async with grpc.aio.insecure_channel(work_grpc_target) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


# The types of `work_events` and `work_rows` (test modules spell them again: a conftest is
# not importable under --import-mode=importlib).
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]
WorkRows = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def work_rows(in_process: InProcess) -> WorkRows:
    """Rows of work's database as stored: `await work_rows(tenant_id, query, *args)` runs
    `query` as the app role under that agency's tenant (row-level security applies)."""

    async def read(tenant_id: uuid.UUID, query: str, *args: Any) -> list[Any]:
        service = await in_process.service("work")
        return await fetch_rows(
            in_process.infra, service.database, query, *args, tenant_id=tenant_id
        )

    return read


@pytest.fixture
def work_events(in_process: InProcess) -> WorkEvents:
    """The events work wrote to its outbox (what its relay publishes) for an agency, of one
    type, oldest first, each the whole envelope (`data`, `subject`, `type`, `tenantid`...):
    `await work_events(tenant_id, "work.task.created", task_id=...)` keeps those whose data
    has the values given."""

    async def read(tenant_id: uuid.UUID, event_type: str, **data: Any) -> list[dict[str, Any]]:
        service = await in_process.service("work")
        events = await service.outbox(tenant_id, event_type)
        return [e for e in events if all(e["data"].get(k) == v for k, v in data.items())]

    return read
