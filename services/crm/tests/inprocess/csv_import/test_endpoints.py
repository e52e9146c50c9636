"""Uploading a CSV file to import: a wrong file is refused at once (422 naming the column
or `file`, 413 past 5 MB), before any job exists; who may import."""

from __future__ import annotations

import httpx
import pytest

from agencyos.testing.csv_imports import all_clients, csv_file, unique
from agencyos.testing.http import assert_problem, problem_fields
from agencyos.testing.inprocess import Agency, Caller


async def upload(crm: httpx.AsyncClient, who: Caller, content: bytes) -> httpx.Response:
    return await crm.post(
        "/v1/clients/import",
        files={"file": ("clients.csv", content, "text/csv")},
        headers=who.headers,
    )


class TestImportRefusesBadFiles:
    async def test_unknown_columns_are_named(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        content = csv_file([], columns=["company_name", "revenue", "Fax"])

        body = assert_problem(await upload(crm, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"revenue", "fax"}
        assert "revenue" in body["detail"]
        assert "fax" in body["detail"]

    async def test_a_missing_company_name_column_is_named(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        content = csv_file([{"industry": "Retail"}], columns=["industry"])

        body = assert_problem(await upload(crm, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"company_name"}

    async def test_a_file_that_is_not_utf8_is_refused(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        content = "company_name\r\nMüller\r\n".encode("latin-1")

        body = assert_problem(await upload(crm, agency, content), 422, "invalid-input")

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
        self, crm: httpx.AsyncClient, agency: Caller, content: bytes
    ) -> None:
        body = assert_problem(await upload(crm, agency, content), 422, "invalid-input")

        assert problem_fields(body) == {"file"}

    async def test_a_request_without_the_file_field_is_refused(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/clients/import",
            files={"upload": ("c.csv", b"company_name\r\nA\r\n", "text/csv")},
            headers=agency.headers,
        )

        assert "file" in problem_fields(assert_problem(response, 422, "invalid-input"))

    async def test_a_file_over_5_mb_is_413(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        line = b"Acme Corporation,Retail,,,,a note that makes the line longer\r\n"
        content = b"company_name,industry,website,tags,status,notes\r\n" + line * (
            5 * 1024 * 1024 // len(line) + 1
        )

        assert_problem(await upload(crm, agency, content), 413, "payload-too-large")
        assert await all_clients(crm, agency) == []

    async def test_a_member_cannot_import(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")

        response = await upload(crm, member, csv_file([{"company_name": unique()}]))

        assert_problem(response, 403, "permission-denied")
        assert await all_clients(crm, agency) == []

    async def test_an_import_needs_a_token(self, crm: httpx.AsyncClient) -> None:
        response = await crm.post(
            "/v1/clients/import", files={"file": ("c.csv", b"company_name\r\nA\r\n", "text/csv")}
        )

        assert_problem(response, 401)
