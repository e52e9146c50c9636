"""The in-process tier of CRM: its app through httpx.ASGITransport, its gRPC servicer on a
port of this process, its own database (cloned from the migrated template, emptied after each
test), identity and work as typed stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.crm.csv_import.runner import ImportRunner
from agencyos.protos.crm.v1 import crm_pb2_grpc
from agencyos.testing.deals import create_client
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess, service_client

crm = service_client("crm")

JOB_TIMEOUT_SECONDS = 30.0


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner


@pytest.fixture
async def crm_service(in_process: InProcess) -> ServiceInProcess:
    """CRM in this process: its database name and infra, to read rows (the outbox, say) the
    way the platform tier reads the running service's database."""
    return await in_process.service("crm")


@pytest.fixture
async def client(crm: httpx.AsyncClient, agency: Caller) -> dict[str, Any]:
    """A client of the agency, in EUR."""
    return await create_client(crm, agency, currency="EUR")


# The type of `crm_events` (test modules spell it again: a conftest is not importable under
# --import-mode=importlib).
CrmEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
def crm_events(crm_service: ServiceInProcess) -> CrmEvents:
    """The events CRM wrote to its outbox (what its relay publishes) for an agency, oldest
    first, each the whole envelope (`type`, `subject`, `source`, `tenantid`, `data`...):
    `await crm_events(who)` answers all of them, `await crm_events(who, "crm.deal.won")` those
    of one type."""

    async def read(who: Caller, event_type: str | None = None) -> list[dict[str, Any]]:
        return await crm_service.outbox(who.agency_id, event_type)

    return read


@pytest.fixture
async def crm_stub(
    crm: httpx.AsyncClient, in_process: InProcess
) -> AsyncIterator[crm_pb2_grpc.CrmServiceStub]:
    """A CrmService stub on CRM's own gRPC servicer, served in this process over its database
    as `rpc.py` wires it (asking for `crm` too, so the tables are emptied after the test)."""
    async with grpc.aio.insecure_channel(await in_process.grpc_target("crm")) as channel:
        yield crm_pb2_grpc.CrmServiceStub(channel)


@pytest.fixture
async def import_runner(
    crm: httpx.AsyncClient, crm_service: ServiceInProcess
) -> AsyncIterator[ImportRunner]:
    """CRM's import runner (what its `worker` mode runs) working in this process over the
    service's database while the test runs, polling often; stopped before the tables are
    emptied. Crashes, restarts and several runners are the platform tier's."""
    runner = ImportRunner(crm_service.ctx.database(), poll_seconds=0.05)
    task = asyncio.create_task(runner.run(), name="import-runner")
    try:
        yield runner
    finally:
        runner.stop()
        await task


# The type of `wait_for_job`: `await wait_for_job(who, job_id, seen=None)`.
WaitForJob = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def wait_for_job(crm: httpx.AsyncClient, import_runner: ImportRunner) -> WaitForJob:
    """Poll `GET /v1/jobs/{id}` as `who` until the job ends (bounded), the import runner
    running meanwhile; every answer seen goes into `seen`."""

    async def wait(
        who: Caller, job_id: str, *, seen: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + JOB_TIMEOUT_SECONDS
        while True:
            response = await crm.get(f"/v1/jobs/{job_id}", headers=who.headers)
            assert response.status_code == 200, response.text
            job: dict[str, Any] = response.json()
            if seen is not None:
                seen.append(job)
            if job["status"] in ("completed", "failed"):
                return job
            assert asyncio.get_running_loop().time() < deadline, f"job did not end: {job}"
            await asyncio.sleep(0.02)

    return wait
