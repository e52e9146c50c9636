"""CRM's client import runner as the platform runs it (a worker in every crm process): an API
key's import, progress readable while a large file imports, concurrent imports, jobs left by a
dead process, and two runner processes sharing the queue. The rules of the file, its rows and
the export are the in-process tier's."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from agencyos.testing.csv_imports import csv_file, unique
from agencyos.testing.factories import AgencySession
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.sql import fetch_rows

JOB_TIMEOUT_SECONDS = 180.0


@pytest.fixture(autouse=True)
async def settled(platform: Platform) -> AsyncIterator[None]:
    """Thousands of imported clients are thousands of events for every consumer of the
    platform: each test leaves them handled, so the next test on this worker does not wait
    behind them (notification takes them at a few dozen a second on a busy machine)."""
    yield
    await platform.wait_for_consumers()


async def upload(
    gateway: httpx.AsyncClient,
    who: AgencySession | Mapping[str, str],
    content: bytes,
    *,
    filename: str = "clients.csv",
) -> httpx.Response:
    headers = who.headers if isinstance(who, AgencySession) else dict(who)
    return await gateway.post(
        "/v1/clients/import",
        files={"file": (filename, content, "text/csv")},
        headers=headers,
    )


async def start_import(
    gateway: httpx.AsyncClient, who: AgencySession | Mapping[str, str], content: bytes
) -> str:
    response = await upload(gateway, who, content)
    assert response.status_code == 202, response.text
    job_id = str(response.json()["job_id"])
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    return job_id


async def wait_for_job(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    job_id: str,
    *,
    seen: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Poll the job until it ends (bounded); every answer seen goes into `seen`."""
    deadline = asyncio.get_running_loop().time() + JOB_TIMEOUT_SECONDS
    while True:
        response = await gateway.get(f"/v1/jobs/{job_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if seen is not None:
            seen.append(job)
        if job["status"] in ("completed", "failed"):
            return job
        assert asyncio.get_running_loop().time() < deadline, f"job did not end: {job}"
        await asyncio.sleep(0.1)


async def all_clients(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await gateway.get(
            "/v1/clients", params={**params, "page": page, "per_page": 200}, headers=who.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if len(items) >= body["total"]:
            return items
        page += 1


async def client_by_name(
    gateway: httpx.AsyncClient, who: AgencySession, name: str
) -> dict[str, Any]:
    matches = [c for c in await all_clients(gateway, who, q=name) if c["company_name"] == name]
    assert len(matches) == 1, matches
    return matches[0]


async def contacts_of(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(f"/v1/clients/{client_id}/contacts", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


class TestImport:
    async def test_an_api_key_import_leaves_new_clients_without_owner(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/api-keys", json={"name": "CRM sync", "role": "manager"}, headers=agency.headers
        )
        assert response.status_code == 201, response.text
        key = response.json()
        name = unique()

        job_id = await start_import(
            gateway, {"Authorization": f"Bearer {key['key']}"}, csv_file([{"company_name": name}])
        )
        job = await wait_for_job(gateway, agency, job_id)

        assert job["status"] == "completed", job
        client = await client_by_name(gateway, agency, name)
        assert client["owner_id"] is None
        assert client["created_by"] == key["id"]


class TestJobs:
    async def test_progress_is_readable_while_a_large_file_imports(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        rows = [
            {
                "company_name": f"Bulk {i:05d}",
                "tags": "bulk",
                "contact_name": f"Person {i}",
                "contact_email": f"p{i}@bulk.example",
                "external_id": f"bulk-{i}",
            }
            for i in range(3000)
        ]
        seen: list[dict[str, Any]] = []

        job_id = await start_import(gateway, agency, csv_file(rows))
        job = await wait_for_job(gateway, agency, job_id, seen=seen)

        assert job["status"] == "completed", job
        assert (job["total"], job["processed"], job["created"]) == (3000, 3000, 3000)
        assert job["errors"] == []
        # Every answer is a consistent snapshot: progress only grows and never passes total.
        processed = [s["processed"] for s in seen]
        assert processed == sorted(processed)
        assert all(s["total"] == 3000 and s["created"] == s["processed"] for s in seen)
        page = await gateway.get(
            "/v1/clients", params={"tag": "bulk", "per_page": 1}, headers=agency.headers
        )
        assert page.json()["total"] == 3000

    async def test_concurrent_imports_of_the_same_clients_never_duplicate_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        rows = [
            {
                "company_name": f"Shared {i:04d}",
                "external_id": f"shared-{i}",
                "contact_name": "Primary Person",
                "contact_email": f"primary{i}@shared.example",
            }
            for i in range(600)
        ]
        content = csv_file(rows)

        job_ids = await asyncio.gather(*(start_import(gateway, agency, content) for _ in range(3)))
        jobs = await asyncio.gather(*(wait_for_job(gateway, agency, j) for j in job_ids))

        assert [j["status"] for j in jobs] == ["completed"] * 3, jobs
        assert [j["errors"] for j in jobs] == [[], [], []]
        assert sum(j["created"] for j in jobs) == 600
        assert sum(j["updated"] for j in jobs) == 1200
        clients = await all_clients(gateway, agency)
        assert sorted(c["external_id"] for c in clients) == sorted(r["external_id"] for r in rows)
        for client in clients[:5]:
            [contact] = await contacts_of(gateway, agency, client["id"])
            assert contact["is_primary"] is True


class TestRunnerRecovery:
    """The runner's queue discipline, seen from the database."""

    async def test_a_job_left_running_by_a_dead_process_is_run_again(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        name = unique()
        job_id = await start_import(gateway, agency, csv_file([{"company_name": name}]))
        await wait_for_job(gateway, agency, job_id)
        # Make it look like a runner took a second job and died an hour ago mid-way.
        orphan = uuid.uuid4()
        payload = (
            '{"owner_id": null, "csv": "company_name\\r\\n' + f"{name}\\r\\n{name} II\\r\\n" + '"}'
        )
        await fetch_rows(
            platform.infra,
            platform.database("crm"),
            "INSERT INTO jobs (tenant_id, id, kind, status, input, total, processed, created, "
            "created_by, attempts, started_at, created_at, updated_at) VALUES ($1, $2, "
            "'client_import', 'running', $3, 2, 1, 0, $4, 1, now() - interval '1 hour', "
            "now() - interval '1 hour', now() - interval '1 hour') RETURNING id",
            agency.agency_id,
            orphan,
            payload,
            agency.user_id,
            tenant_id=agency.agency_id,
        )

        job = await wait_for_job(gateway, agency, str(orphan))

        # Resumed after the row the dead runner had committed: only the second one is new.
        assert job["status"] == "completed", job
        assert (job["processed"], job["created"], job["updated"]) == (2, 1, 0)
        names = sorted(c["company_name"] for c in await all_clients(gateway, agency))
        assert names == [name, f"{name} II"]

    async def test_a_job_out_of_attempts_fails_with_an_error(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        orphan = uuid.uuid4()
        await fetch_rows(
            platform.infra,
            platform.database("crm"),
            "INSERT INTO jobs (tenant_id, id, kind, status, input, total, created_by, attempts, "
            "started_at, created_at, updated_at) VALUES ($1, $2, 'client_import', 'running', "
            "'{}', 1, $3, 3, now() - interval '1 hour', now() - interval '1 hour', "
            "now() - interval '1 hour') RETURNING id",
            agency.agency_id,
            orphan,
            agency.user_id,
            tenant_id=agency.agency_id,
        )

        job = await wait_for_job(gateway, agency, str(orphan))

        assert job["status"] == "failed"
        assert job["finished_at"] is not None
        [error] = job["errors"]
        assert error["row"] is None
        assert "given up" in error["message"]

    async def test_two_runner_processes_share_the_queue_without_running_a_job_twice(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        contents = [
            csv_file(
                {"company_name": f"Replica {n}-{i:04d}", "external_id": f"r{n}-{i}"}
                for i in range(300)
            )
            for n in range(6)
        ]
        async with extra_crm_worker(platform):
            job_ids = await asyncio.gather(*(start_import(gateway, agency, c) for c in contents))
            jobs = [await wait_for_job(gateway, agency, j) for j in job_ids]

        assert [(j["status"], j["created"], j["updated"]) for j in jobs] == [
            ("completed", 300, 0)
        ] * 6
        assert len(await all_clients(gateway, agency, q="replica")) == 1800
        rows = await fetch_rows(
            platform.infra,
            platform.database("crm"),
            "SELECT count(*) AS n FROM outbox WHERE event_type = 'crm.client.created'",
            tenant_id=agency.agency_id,
        )
        assert rows[0]["n"] == 1800  # one event per client: no batch ran twice


async def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()


@asynccontextmanager
async def extra_crm_worker(platform: Platform) -> AsyncIterator[None]:
    """A second crm process running only its workers (`python -m agencyos.crm worker`) on the
    platform's database: another replica's import runner. Ready once its runner logs."""
    log_path = platform.log_dir / f"crm-worker-{uuid.uuid4().hex[:6]}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "agencyos.crm", "worker"],
        env={**platform.environment(), "PYTHONUNBUFFERED": "1"},
        cwd=REPO_ROOT,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while "import runner started" not in log_path.read_text(errors="replace"):
            assert process.poll() is None, log_path.read_text(errors="replace")
            assert asyncio.get_running_loop().time() < deadline, "the worker did not start"
            await asyncio.sleep(0.1)
        yield
    finally:
        await _stop(process)
    assert process.returncode == 0, log_path.read_text(errors="replace")
