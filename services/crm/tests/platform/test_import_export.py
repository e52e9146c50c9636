"""CRM client CSV import (a background job) and export, through the gateway against the
running platform: real crm processes, PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import csv
import io
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_problem, problem_fields
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.sql import fetch_rows

COLUMNS = (
    "company_name",
    "industry",
    "website",
    "tags",
    "status",
    "notes",
    "contact_name",
    "contact_email",
    "contact_phone",
    "external_id",
)
EXPORT_COLUMNS = (*COLUMNS, "id", "owner_id", "created_at", "total_revenue_cents")
JOB_TIMEOUT_SECONDS = 180.0


def csv_file(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def unique(prefix: str = "Client") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


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


async def run_import(
    gateway: httpx.AsyncClient, who: AgencySession, content: bytes
) -> dict[str, Any]:
    job = await wait_for_job(gateway, who, await start_import(gateway, who, content))
    assert job["status"] == "completed", job
    return job


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


async def export(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> httpx.Response:
    response = await gateway.get("/v1/clients/export", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response


def error_keys(job: dict[str, Any]) -> set[tuple[int | None, str | None]]:
    return {(e["row"], e["field"]) for e in job["errors"]}


class TestImport:
    async def test_a_valid_file_is_imported_by_a_background_job(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        acme, globex = unique("Acme"), unique("Globex")
        content = csv_file(
            [
                {
                    "company_name": acme,
                    "industry": "Retail",
                    "website": "acme.example",
                    "tags": "enterprise; emea;enterprise",
                    "status": "Active",
                    "notes": "Met at the expo",
                    "contact_name": "Wile E. Coyote",
                    "contact_email": "wile@acme.example",
                    "contact_phone": "+1 555 0100",
                    "external_id": f"ext-{acme}",
                },
                {"company_name": globex},
            ]
        )

        seen: list[dict[str, Any]] = []
        job_id = await start_import(gateway, agency, content)
        job = await wait_for_job(gateway, agency, job_id, seen=seen)

        assert seen[0]["status"] in ("queued", "running", "completed")
        assert job["id"] == job_id
        assert job["kind"] == "client_import"
        assert job["status"] == "completed", job
        assert (job["total"], job["processed"], job["created"], job["updated"]) == (2, 2, 2, 0)
        assert job["errors"] == []
        assert job["started_at"] is not None
        assert job["finished_at"] >= job["started_at"] >= job["created_at"]

        client = await client_by_name(gateway, agency, acme)
        response = await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        assert response.status_code == 200, response.text
        client = response.json()
        assert client["industry"] == "Retail"
        assert client["website"] == "https://acme.example/"
        assert client["tags"] == ["enterprise", "emea"]
        assert client["status"] == "active"
        assert client["notes"] == "Met at the expo"
        assert client["external_id"] == f"ext-{acme}"
        assert client["owner_id"] == str(agency.user_id)
        assert client["created_by"] == str(agency.user_id)
        [contact] = await contacts_of(gateway, agency, client["id"])
        assert contact["name"] == "Wile E. Coyote"
        assert contact["email"] == "wile@acme.example"
        assert contact["phone"] == "+1 555 0100"
        assert contact["is_primary"] is True

        other = await client_by_name(gateway, agency, globex)
        assert other["status"] == "lead"
        assert other["external_id"] is None
        assert await contacts_of(gateway, agency, other["id"]) == []

    async def test_imported_clients_publish_client_created(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        name = unique()
        await run_import(gateway, agency, csv_file([{"company_name": name}]))
        client = await client_by_name(gateway, agency, name)

        match = {"type": "crm.client.created", "subject": f"clients/{client['id']}"}
        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}crm.events",
            lambda seen: bool(events_where(seen, **match)),
        )
        [event] = events_where(records, **match)
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"]["company_name"] == name
        assert event["data"]["owner_id"] == str(agency.user_id)

    async def test_reimporting_a_file_updates_its_clients_and_creates_none(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        rows = [
            {"company_name": unique(), "external_id": f"crm-{i}", "status": "lead"}
            for i in range(5)
        ]
        first = await run_import(gateway, agency, csv_file(rows))
        for row in rows:
            row["company_name"] += " GmbH"  # renamed in the source system
            row["status"] = "active"
        second = await run_import(gateway, agency, csv_file(rows))

        assert (first["created"], first["updated"]) == (5, 0)
        assert (second["created"], second["updated"]) == (0, 5)
        clients = await all_clients(gateway, agency)
        assert sorted(c["external_id"] for c in clients) == [f"crm-{i}" for i in range(5)]
        assert {c["company_name"] for c in clients} == {r["company_name"] for r in rows}
        assert {c["status"] for c in clients} == {"active"}

    async def test_a_row_without_external_id_updates_the_client_with_that_name(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        name = unique("Initech")
        created = await gateway.post(
            "/v1/clients",
            json={"company_name": name, "industry": "Software", "notes": "keep me"},
            headers=agency.headers,
        )
        assert created.status_code == 201, created.text

        job = await run_import(
            gateway, agency, csv_file([{"company_name": name.upper(), "status": "inactive"}])
        )

        assert (job["created"], job["updated"]) == (0, 1)
        [client] = await all_clients(gateway, agency)
        assert client["id"] == created.json()["id"]
        assert client["status"] == "inactive"
        # An empty cell keeps what the client had.
        assert client["industry"] == "Software"
        assert client["notes"] == "keep me"

    async def test_contacts_are_matched_by_email_else_name_and_the_first_is_primary(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        name = unique()
        content = csv_file(
            [
                {"company_name": name, "contact_name": "Ann", "contact_email": "ann@x.example"},
                {"company_name": name, "contact_name": "Bob", "contact_phone": "555 1"},
                {
                    "company_name": name,
                    "contact_name": "Ann Lee",
                    "contact_email": "ANN@x.example",
                    "contact_phone": "555 2",
                },
                {"company_name": name, "contact_name": "bob", "contact_email": "bob@x.example"},
            ]
        )

        job = await run_import(gateway, agency, content)

        assert (job["created"], job["updated"]) == (1, 3)
        client = await client_by_name(gateway, agency, name)
        contacts = await contacts_of(gateway, agency, client["id"])
        summary = sorted((c["name"], c["email"], c["phone"], c["is_primary"]) for c in contacts)
        assert summary == [
            ("Ann Lee", "ANN@x.example", "555 2", True),
            ("bob", "bob@x.example", "555 1", False),
        ]

    async def test_bad_rows_are_never_imported_and_each_problem_is_listed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        good = [unique("Good"), unique("Good")]
        rows = [
            {"company_name": good[0]},
            {"company_name": "", "industry": "Retail"},
            {"company_name": unique(), "status": "prospect", "website": "not a url"},
            {"company_name": unique(), "contact_name": "X", "contact_email": "x@"},
            {"company_name": unique(), "tags": ";".join(f"t{i}" for i in range(51))},
            {"company_name": unique(), "tags": "ok;" + "y" * 51},
            {"company_name": unique(), "external_id": "e" * 201},
            {"company_name": "n" * 201},
            {"company_name": unique(), "contact_email": "lonely@x.example"},
            {"company_name": good[1], "contact_name": "Fine", "contact_email": "f@x.example"},
        ]

        job = await run_import(gateway, agency, csv_file(rows))

        assert (job["total"], job["processed"]) == (10, 10)
        assert (job["created"], job["updated"]) == (2, 0)
        assert error_keys(job) == {
            (2, "company_name"),
            (3, "status"),
            (3, "website"),
            (4, "contact_email"),
            (5, "tags"),
            (6, "tags"),
            (7, "external_id"),
            (8, "company_name"),
            (9, "contact_name"),
        }
        assert len(job["errors"]) == 9  # one entry per problem
        assert all(error["message"] for error in job["errors"])
        assert sorted(c["company_name"] for c in await all_clients(gateway, agency)) == sorted(good)

    async def test_a_utf8_file_with_a_byte_order_mark_and_mixed_case_header_imports(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        name = unique("Müller & Söhne")
        content = "\ufeffCompany_Name , Industry\r\n" + f'"{name}",Bäckerei\r\n\r\n'

        job = await run_import(gateway, agency, content.encode("utf-8"))

        assert (job["total"], job["created"]) == (1, 1)
        assert (await client_by_name(gateway, agency, name))["industry"] == "Bäckerei"

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


class TestImportRefusesBadFiles:
    async def test_unknown_columns_are_named(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        content = csv_file([], columns=["company_name", "revenue", "Fax"])

        body = assert_problem(await upload(gateway, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"revenue", "fax"}
        assert "revenue" in body["detail"]
        assert "fax" in body["detail"]

    async def test_a_missing_company_name_column_is_named(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        content = csv_file([{"industry": "Retail"}], columns=["industry"])

        body = assert_problem(await upload(gateway, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"company_name"}

    async def test_a_file_that_is_not_utf8_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        content = "company_name\r\nMüller\r\n".encode("latin-1")

        body = assert_problem(await upload(gateway, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"file"}
        assert "UTF-8" in body["detail"]

    @pytest.mark.parametrize(
        "content",
        [
            b"",
            b"   \r\n",
            b"company_name\r\n",
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
            b'company_name\r\n"open',
        ],
        ids=["empty", "blank", "header-only", "binary", "broken-quotes"],
    )
    async def test_an_empty_or_non_csv_file_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession, content: bytes
    ) -> None:
        body = assert_problem(await upload(gateway, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"file"}

    async def test_a_request_without_the_file_field_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/clients/import",
            files={"upload": ("c.csv", b"company_name\r\nA\r\n", "text/csv")},
            headers=agency.headers,
        )

        assert "file" in problem_fields(assert_problem(response, 422, "invalid-input"))

    async def test_a_file_over_5_mb_is_413(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        line = b"Acme Corporation,Retail,,,,a note that makes the line longer\r\n"
        content = b"company_name,industry,website,tags,status,notes\r\n" + line * (
            5 * 1024 * 1024 // len(line) + 1
        )

        assert_problem(await upload(gateway, agency, content), 413, "payload-too-large")
        assert await all_clients(gateway, agency) == []

    async def test_a_member_cannot_import(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        response = await upload(gateway, member, csv_file([{"company_name": unique()}]))

        assert_problem(response, 403, "permission-denied")
        assert await all_clients(gateway, agency) == []

    async def test_an_import_needs_a_token(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.post(
            "/v1/clients/import", files={"file": ("c.csv", b"company_name\r\nA\r\n", "text/csv")}
        )

        assert_problem(response, 401)


class TestJobs:
    async def test_another_agencys_job_is_404(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        job_id = await start_import(gateway, agency, csv_file([{"company_name": unique()}]))

        response = await gateway.get(f"/v1/jobs/{job_id}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        assert (await wait_for_job(gateway, agency, job_id))["status"] == "completed"

    async def test_an_unknown_job_is_404(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(f"/v1/jobs/{uuid.uuid4()}", headers=agency.headers)

        assert_problem(response, 404, "not-found")

    async def test_a_member_can_follow_an_import(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        job_id = await start_import(gateway, agency, csv_file([{"company_name": unique()}]))

        assert (await wait_for_job(gateway, member, job_id))["status"] == "completed"

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


class TestExport:
    async def test_export_streams_exactly_the_filtered_clients_of_the_callers_agency(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await run_import(
            gateway,
            agency,
            csv_file(
                [
                    {"company_name": "Active One", "status": "active", "tags": "vip;emea"},
                    {
                        "company_name": "Active Two",
                        "status": "active",
                        "contact_name": "Pat",
                        "contact_email": "pat@two.example",
                        "contact_phone": "555 7",
                    },
                    {"company_name": "Lead Three", "status": "lead", "tags": "vip"},
                ]
            ),
        )
        await run_import(
            gateway,
            other_agency,
            csv_file([{"company_name": "Active Elsewhere", "status": "active"}]),
        )

        response = await export(gateway, agency, status="active", sort="company_name")

        assert response.headers["content-type"].startswith("text/csv")
        today = datetime.now(UTC).date().isoformat()
        assert response.headers["content-disposition"] == (
            f'attachment; filename="clients-{today}.csv"'
        )
        header = next(csv.reader(io.StringIO(response.text)))
        assert tuple(header) == EXPORT_COLUMNS
        rows = read_csv(response.text)
        assert [r["company_name"] for r in rows] == ["Active One", "Active Two"]
        one, two = rows
        assert one["tags"] == "vip;emea"
        assert one["contact_name"] == one["contact_email"] == ""
        assert (two["contact_name"], two["contact_email"], two["contact_phone"]) == (
            "Pat",
            "pat@two.example",
            "555 7",
        )
        assert two["owner_id"] == str(agency.user_id)
        assert two["total_revenue_cents"] == "0"
        listed = {c["id"]: c for c in await all_clients(gateway, agency)}
        assert two["id"] in listed
        assert datetime.fromisoformat(two["created_at"].replace("Z", "+00:00")) == (
            datetime.fromisoformat(listed[two["id"]]["created_at"].replace("Z", "+00:00"))
        )

        by_tag = read_csv((await export(gateway, agency, tag="vip", sort="-company_name")).text)
        assert [r["company_name"] for r in by_tag] == ["Lead Three", "Active One"]
        by_q = read_csv((await export(gateway, agency, q="pat@two")).text)
        assert [r["company_name"] for r in by_q] == ["Active Two"]
        theirs = read_csv((await export(gateway, other_agency)).text)
        assert [r["company_name"] for r in theirs] == ["Active Elsewhere"]

    async def test_an_agency_without_clients_exports_only_the_header(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await export(gateway, agency)

        assert response.text == ",".join(EXPORT_COLUMNS) + "\r\n"

    async def test_cells_that_would_run_as_formulas_are_neutralised(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        dangerous = {
            "company_name": '=HYPERLINK("http://evil.example","Click")',
            "industry": "+cmd|' /C calc'!A0",
            "notes": "-2+3",
            "tags": "@SUM(A1)",
            "contact_name": "=1+1",
            "contact_phone": "+49 30 1234",
        }
        response = await gateway.post(
            "/v1/clients",
            json={k: dangerous[k] for k in ("company_name", "industry", "notes")},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        await run_import(gateway, agency, csv_file([dangerous]))

        [row] = read_csv((await export(gateway, agency)).text)

        for column, value in dangerous.items():
            assert row[column] == f"'{value}", column

    async def test_an_export_imports_back_unchanged(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await run_import(
            gateway,
            agency,
            csv_file(
                [
                    {
                        "company_name": "=Round Trip",
                        "industry": "Retail",
                        "website": "https://rt.example/shop",
                        "tags": "a;b",
                        "status": "inactive",
                        "notes": 'multi\nline, "quoted"',
                        "contact_name": "Rita",
                        "contact_email": "rita@rt.example",
                        "contact_phone": "+1 555 0199",
                        "external_id": "rt-1",
                    },
                    {"company_name": "Plain", "status": "active"},
                ]
            ),
        )
        exported = (await export(gateway, agency, sort="company_name")).content

        again = await run_import(gateway, agency, exported)
        elsewhere = await run_import(gateway, other_agency, exported)

        assert (again["created"], again["updated"], again["errors"]) == (0, 2, [])
        assert (elsewhere["created"], elsewhere["updated"], elsewhere["errors"]) == (2, 0, [])
        ours = read_csv((await export(gateway, agency, sort="company_name")).text)
        theirs = read_csv((await export(gateway, other_agency, sort="company_name")).text)
        assert ours == read_csv(exported.decode())
        same = [c for c in COLUMNS if c != "owner_id"]
        assert [{c: r[c] for c in same} for r in theirs] == [{c: r[c] for c in same} for r in ours]
        assert ours[0]["company_name"] == "'=Round Trip"
        client = await client_by_name(gateway, agency, "=Round Trip")
        assert len(await contacts_of(gateway, agency, client["id"])) == 1

    async def test_a_manager_can_export_but_another_agency_sees_none_of_it(
        self,
        gateway: httpx.AsyncClient,
        platform: Platform,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        await run_import(gateway, agency, csv_file([{"company_name": "Visible"}]))

        rows = read_csv((await export(gateway, manager)).text)
        theirs = read_csv((await export(gateway, other_agency)).text)

        assert [r["company_name"] for r in rows] == ["Visible"]
        assert theirs == []

    async def test_an_unknown_sort_or_status_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients/export", params={"sort": "secret", "status": "x"}, headers=agency.headers
        )

        assert problem_fields(assert_problem(response, 422)) == {"query.sort", "query.status"}
