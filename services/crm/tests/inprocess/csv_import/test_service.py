"""Importing the rows of a CSV file (run by the import runner, in this process): what a row
creates or updates (matched by external id, else by company name), its contact (matched by
email, else name), every bad row listed and skipped, the header read leniently, and the
`crm.client.created` events written to the outbox."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.csv_imports import (
    all_clients,
    client_by_name,
    contacts_of,
    csv_file,
    start_import,
    unique,
)
from agencyos.testing.inprocess import Caller

# The conftest's fixture types, spelled again (a conftest is not importable here).
WaitForJob = Callable[..., Awaitable[dict[str, Any]]]
CrmEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def run_import(
    crm: httpx.AsyncClient, wait_for_job: WaitForJob, who: Caller, content: bytes
) -> dict[str, Any]:
    job = await wait_for_job(who, await start_import(crm, who, content))
    assert job["status"] == "completed", job
    return job


def error_keys(job: dict[str, Any]) -> set[tuple[int | None, str | None]]:
    return {(e["row"], e["field"]) for e in job["errors"]}


class TestImport:
    async def test_a_valid_file_is_imported_by_a_background_job(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
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
        job_id = await start_import(crm, agency, content)
        job = await wait_for_job(agency, job_id, seen=seen)

        assert seen[0]["status"] in ("queued", "running", "completed")
        assert job["id"] == job_id
        assert job["kind"] == "client_import"
        assert job["status"] == "completed", job
        assert (job["total"], job["processed"], job["created"], job["updated"]) == (2, 2, 2, 0)
        assert job["errors"] == []
        assert job["started_at"] is not None
        assert job["finished_at"] >= job["started_at"] >= job["created_at"]

        client = await client_by_name(crm, agency, acme)
        response = await crm.get(f"/v1/clients/{client['id']}", headers=agency.headers)
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
        [contact] = await contacts_of(crm, agency, client["id"])
        assert contact["name"] == "Wile E. Coyote"
        assert contact["email"] == "wile@acme.example"
        assert contact["phone"] == "+1 555 0100"
        assert contact["is_primary"] is True

        other = await client_by_name(crm, agency, globex)
        assert other["status"] == "lead"
        assert other["external_id"] is None
        assert await contacts_of(crm, agency, other["id"]) == []

    async def test_imported_clients_publish_client_created(
        self,
        crm: httpx.AsyncClient,
        wait_for_job: WaitForJob,
        crm_events: CrmEvents,
        agency: Caller,
    ) -> None:
        name = unique()
        await run_import(crm, wait_for_job, agency, csv_file([{"company_name": name}]))
        client = await client_by_name(crm, agency, name)

        events = await crm_events(agency, "crm.client.created")
        [event] = [e for e in events if e["subject"] == f"clients/{client['id']}"]
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"]["company_name"] == name
        assert event["data"]["owner_id"] == str(agency.user_id)

    async def test_reimporting_a_file_updates_its_clients_and_creates_none(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
    ) -> None:
        rows = [
            {"company_name": unique(), "external_id": f"crm-{i}", "status": "lead"}
            for i in range(5)
        ]
        first = await run_import(crm, wait_for_job, agency, csv_file(rows))
        for row in rows:
            row["company_name"] += " GmbH"  # renamed in the source system
            row["status"] = "active"
        second = await run_import(crm, wait_for_job, agency, csv_file(rows))

        assert (first["created"], first["updated"]) == (5, 0)
        assert (second["created"], second["updated"]) == (0, 5)
        clients = await all_clients(crm, agency)
        assert sorted(c["external_id"] for c in clients) == [f"crm-{i}" for i in range(5)]
        assert {c["company_name"] for c in clients} == {r["company_name"] for r in rows}
        assert {c["status"] for c in clients} == {"active"}

    async def test_a_row_without_external_id_updates_the_client_with_that_name(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
    ) -> None:
        name = unique("Initech")
        created = await crm.post(
            "/v1/clients",
            json={"company_name": name, "industry": "Software", "notes": "keep me"},
            headers=agency.headers,
        )
        assert created.status_code == 201, created.text

        job = await run_import(
            crm,
            wait_for_job,
            agency,
            csv_file([{"company_name": name.upper(), "status": "inactive"}]),
        )

        assert (job["created"], job["updated"]) == (0, 1)
        [client] = await all_clients(crm, agency)
        assert client["id"] == created.json()["id"]
        assert client["status"] == "inactive"
        # An empty cell keeps what the client had.
        assert client["industry"] == "Software"
        assert client["notes"] == "keep me"

    async def test_contacts_are_matched_by_email_else_name_and_the_first_is_primary(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
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

        job = await run_import(crm, wait_for_job, agency, content)

        assert (job["created"], job["updated"]) == (1, 3)
        client = await client_by_name(crm, agency, name)
        contacts = await contacts_of(crm, agency, client["id"])
        summary = sorted((c["name"], c["email"], c["phone"], c["is_primary"]) for c in contacts)
        assert summary == [
            ("Ann Lee", "ANN@x.example", "555 2", True),
            ("bob", "bob@x.example", "555 1", False),
        ]

    async def test_bad_rows_are_never_imported_and_each_problem_is_listed(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
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

        job = await run_import(crm, wait_for_job, agency, csv_file(rows))

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
        assert sorted(c["company_name"] for c in await all_clients(crm, agency)) == sorted(good)

    async def test_a_utf8_file_with_a_byte_order_mark_and_mixed_case_header_imports(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
    ) -> None:
        name = unique("Müller & Söhne")
        content = "\ufeffCompany_Name , Industry\r\n" + f'"{name}",Bäckerei\r\n\r\n'

        job = await run_import(crm, wait_for_job, agency, content.encode("utf-8"))

        assert (job["total"], job["created"]) == (1, 1)
        assert (await client_by_name(crm, agency, name))["industry"] == "Bäckerei"
