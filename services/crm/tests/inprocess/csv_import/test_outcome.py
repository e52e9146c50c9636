"""How an import ended, told to whoever started it: `crm.import.finished` with the job's
counts once its rows ran to the end (however many batches), `crm.import.failed` when it was
given up (out of attempts, or crashing on every one), each exactly once per job."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx

from agencyos.crm.csv_import.runner import ImportRunner
from agencyos.testing.csv_imports import csv_file, start_import, unique
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess

# The conftest's fixture types, spelled again (a conftest is not importable here).
WaitForJob = Callable[..., Awaitable[dict[str, Any]]]
CrmEvents = Callable[..., Awaitable[list[dict[str, Any]]]]

IMPORT_EVENTS = ("crm.import.finished", "crm.import.failed")


async def outcome_events(crm_events: CrmEvents, who: Caller, job_id: str) -> list[Any]:
    """Every import-outcome event about the job, of either type."""
    return [
        e
        for e in await crm_events(who)
        if e["type"] in IMPORT_EVENTS and e["data"]["job_id"] == job_id
    ]


async def insert_job(
    crm_service: ServiceInProcess,
    who: Caller,
    *,
    status: str,
    attempts: int,
    job_input: str,
    total: int = 1,
    stale: bool = True,
) -> str:
    """A job row as a runner (possibly a dead one) left it."""
    job_id = uuid.uuid4()
    age = "interval '1 hour'" if stale else "interval '0 seconds'"
    await crm_service.rows(
        "INSERT INTO jobs (tenant_id, id, kind, status, input, total, created_by, attempts, "
        f"created_at, updated_at) VALUES ($1, $2, 'client_import', $3, $4, $5, $6, $7, "
        f"now() - {age}, now() - {age}) RETURNING id",
        who.agency_id,
        job_id,
        status,
        job_input,
        total,
        who.user_id,
        attempts,
        tenant_id=who.agency_id,
    )
    return str(job_id)


@asynccontextmanager
async def runner_running(runner: ImportRunner) -> AsyncIterator[None]:
    task = asyncio.create_task(runner.run(), name="import-runner")
    try:
        yield
    finally:
        runner.stop()
        await task


async def ended(crm: httpx.AsyncClient, who: Caller, job_id: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        response = await crm.get(f"/v1/jobs/{job_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("completed", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job did not end: {job}"
        await asyncio.sleep(0.02)


class TestFinished:
    async def test_a_finished_import_tells_its_starter_the_counts_once(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        wait_for_job: WaitForJob,
        crm_events: CrmEvents,
        agency: Caller,
    ) -> None:
        member = tenant.caller("manager")
        existing = unique("Initech")
        created = await crm.post(
            "/v1/clients", json={"company_name": existing}, headers=agency.headers
        )
        assert created.status_code == 201, created.text
        content = csv_file(
            [
                {"company_name": unique()},
                {"company_name": existing, "industry": "Software"},
                # one row, two bad cells: two error entries, one failed row
                {"company_name": unique(), "status": "nonsense", "website": "not a url"},
                {"company_name": "", "industry": "Retail"},
            ]
        )

        job_id = await start_import(crm, member, content)
        job = await wait_for_job(member, job_id)

        assert job["status"] == "completed", job
        assert len(job["errors"]) == 3, job["errors"]
        [event] = await outcome_events(crm_events, agency, job_id)
        assert event["type"] == "crm.import.finished"
        assert event["subject"] == f"jobs/{job_id}"
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"] == {
            "job_id": job_id,
            "kind": "client_import",
            "started_by": str(member.user_id),
            "total": 4,
            "created": 1,
            "updated": 1,
            "failed": 2,
        }

    async def test_an_import_of_many_batches_tells_its_end_once(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        crm_events: CrmEvents,
        agency: Caller,
    ) -> None:
        content = csv_file([{"company_name": unique()} for _ in range(7)])
        job_id = await start_import(crm, agency, content)

        runner = ImportRunner(crm_service.ctx.database(), poll_seconds=0.02, batch_size=2)
        async with runner_running(runner):
            job = await ended(crm, agency, job_id)

        assert (job["status"], job["processed"], job["created"]) == ("completed", 7, 7)
        [event] = await outcome_events(crm_events, agency, job_id)
        assert event["type"] == "crm.import.finished"
        assert (event["data"]["total"], event["data"]["created"]) == (7, 7)
        assert event["data"]["failed"] == 0


class TestFailed:
    async def test_a_job_out_of_attempts_is_given_up_and_told_once(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        wait_for_job: WaitForJob,
        crm_events: CrmEvents,
        agency: Caller,
    ) -> None:
        # a runner took it for the third time and died an hour ago
        job_id = await insert_job(crm_service, agency, status="running", attempts=3, job_input="{}")

        job = await wait_for_job(agency, job_id)

        assert job["status"] == "failed", job
        [event] = await outcome_events(crm_events, agency, job_id)
        assert event["type"] == "crm.import.failed"
        assert event["subject"] == f"jobs/{job_id}"
        assert event["data"] == {
            "job_id": job_id,
            "kind": "client_import",
            "started_by": str(agency.user_id),
            "error": "the job was interrupted 3 times and was given up",
        }

    async def test_a_job_crashing_on_every_attempt_fails_and_is_told_once(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        wait_for_job: WaitForJob,
        crm_events: CrmEvents,
        agency: Caller,
    ) -> None:
        # an input the runner cannot read: every attempt crashes
        job_id = await insert_job(
            crm_service, agency, status="queued", attempts=0, job_input="{}", stale=False
        )

        job = await wait_for_job(agency, job_id)

        assert job["status"] == "failed", job
        [event] = await outcome_events(crm_events, agency, job_id)
        assert event["type"] == "crm.import.failed"
        assert event["data"]["started_by"] == str(agency.user_id)
        assert "unexpected error (KeyError) after 3 attempts" in event["data"]["error"]
        assert event["data"]["error"] == job["errors"][-1]["message"]
