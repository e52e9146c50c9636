"""Exporting the client book as CSV: exactly the filtered clients of the caller's agency,
formula cells neutralised, an export that imports back unchanged, and who may export."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from agencyos.testing.csv_imports import (
    COLUMNS,
    all_clients,
    client_by_name,
    contacts_of,
    csv_file,
    read_csv,
    start_import,
)
from agencyos.testing.http import assert_problem, problem_fields
from agencyos.testing.inprocess import Agency, Caller

EXPORT_COLUMNS = (*COLUMNS, "id", "owner_id", "created_at", "total_revenue_cents")
# The conftest's fixture types, spelled again (a conftest is not importable here).
WaitForJob = Callable[..., Awaitable[dict[str, Any]]]


async def run_import(
    crm: httpx.AsyncClient, wait_for_job: WaitForJob, who: Caller, content: bytes
) -> dict[str, Any]:
    job = await wait_for_job(who, await start_import(crm, who, content))
    assert job["status"] == "completed", job
    return job


async def export(crm: httpx.AsyncClient, who: Caller, **params: Any) -> httpx.Response:
    response = await crm.get("/v1/clients/export", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return response


class TestExport:
    async def test_export_streams_exactly_the_filtered_clients_of_the_callers_agency(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller, other_agency: Caller
    ) -> None:
        await run_import(
            crm,
            wait_for_job,
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
            crm,
            wait_for_job,
            other_agency,
            csv_file([{"company_name": "Active Elsewhere", "status": "active"}]),
        )

        response = await export(crm, agency, status="active", sort="company_name")

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
        listed = {c["id"]: c for c in await all_clients(crm, agency)}
        assert two["id"] in listed
        assert datetime.fromisoformat(two["created_at"].replace("Z", "+00:00")) == (
            datetime.fromisoformat(listed[two["id"]]["created_at"].replace("Z", "+00:00"))
        )

        by_tag = read_csv((await export(crm, agency, tag="vip", sort="-company_name")).text)
        assert [r["company_name"] for r in by_tag] == ["Lead Three", "Active One"]
        by_q = read_csv((await export(crm, agency, q="pat@two")).text)
        assert [r["company_name"] for r in by_q] == ["Active Two"]
        theirs = read_csv((await export(crm, other_agency)).text)
        assert [r["company_name"] for r in theirs] == ["Active Elsewhere"]

    async def test_an_agency_without_clients_exports_only_the_header(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await export(crm, agency)

        assert response.text == ",".join(EXPORT_COLUMNS) + "\r\n"

    async def test_cells_that_would_run_as_formulas_are_neutralised(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller
    ) -> None:
        dangerous = {
            "company_name": '=HYPERLINK("http://evil.example","Click")',
            "industry": "+cmd|' /C calc'!A0",
            "notes": "-2+3",
            "tags": "@SUM(A1)",
            "contact_name": "=1+1",
            "contact_phone": "+49 30 1234",
        }
        response = await crm.post(
            "/v1/clients",
            json={k: dangerous[k] for k in ("company_name", "industry", "notes")},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        await run_import(crm, wait_for_job, agency, csv_file([dangerous]))

        [row] = read_csv((await export(crm, agency)).text)

        for column, value in dangerous.items():
            assert row[column] == f"'{value}", column

    async def test_an_export_imports_back_unchanged(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller, other_agency: Caller
    ) -> None:
        await run_import(
            crm,
            wait_for_job,
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
        exported = (await export(crm, agency, sort="company_name")).content

        again = await run_import(crm, wait_for_job, agency, exported)
        elsewhere = await run_import(crm, wait_for_job, other_agency, exported)

        assert (again["created"], again["updated"], again["errors"]) == (0, 2, [])
        assert (elsewhere["created"], elsewhere["updated"], elsewhere["errors"]) == (2, 0, [])
        ours = read_csv((await export(crm, agency, sort="company_name")).text)
        theirs = read_csv((await export(crm, other_agency, sort="company_name")).text)
        assert ours == read_csv(exported.decode())
        same = [c for c in COLUMNS if c != "owner_id"]
        assert [{c: r[c] for c in same} for r in theirs] == [{c: r[c] for c in same} for r in ours]
        assert ours[0]["company_name"] == "'=Round Trip"
        client = await client_by_name(crm, agency, "=Round Trip")
        assert len(await contacts_of(crm, agency, client["id"])) == 1

    async def test_a_manager_can_export_but_another_agency_sees_none_of_it(
        self,
        crm: httpx.AsyncClient,
        wait_for_job: WaitForJob,
        tenant: Agency,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        manager = tenant.caller("manager")
        await run_import(crm, wait_for_job, agency, csv_file([{"company_name": "Visible"}]))

        rows = read_csv((await export(crm, manager)).text)
        theirs = read_csv((await export(crm, other_agency)).text)

        assert [r["company_name"] for r in rows] == ["Visible"]
        assert theirs == []

    async def test_an_unknown_sort_or_status_is_422(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get(
            "/v1/clients/export", params={"sort": "secret", "status": "x"}, headers=agency.headers
        )

        assert problem_fields(assert_problem(response, 422)) == {"query.sort", "query.status"}


class TestExportPermission:
    async def test_a_member_may_not_export_the_client_book_but_a_manager_may(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        manager = tenant.caller("manager")

        refused = await crm.get("/v1/clients/export", headers=member.headers)
        listed = await crm.get("/v1/clients", headers=member.headers)
        exported = await crm.get("/v1/clients/export", headers=manager.headers)

        assert_problem(refused, 403)
        assert "clients.export" in refused.json()["detail"]
        assert listed.status_code == 200, listed.text
        assert exported.status_code == 200, exported.text
        assert exported.text.startswith("company_name,")
