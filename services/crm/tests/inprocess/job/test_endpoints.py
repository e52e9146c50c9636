"""Following a background job (`GET /v1/jobs/{id}`): any member of the agency may, another
agency gets 404 like for a missing job."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.csv_imports import csv_file, start_import, unique
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's fixture types, spelled again (a conftest is not importable here).
WaitForJob = Callable[..., Awaitable[dict[str, Any]]]


class TestJobs:
    async def test_another_agencys_job_is_404(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, agency: Caller, other_agency: Caller
    ) -> None:
        job_id = await start_import(crm, agency, csv_file([{"company_name": unique()}]))

        response = await crm.get(f"/v1/jobs/{job_id}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        assert (await wait_for_job(agency, job_id))["status"] == "completed"

    async def test_an_unknown_job_is_404(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        response = await crm.get(f"/v1/jobs/{uuid.uuid4()}", headers=agency.headers)

        assert_problem(response, 404, "not-found")

    async def test_a_member_can_follow_an_import(
        self, crm: httpx.AsyncClient, wait_for_job: WaitForJob, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")
        job_id = await start_import(crm, agency, csv_file([{"company_name": unique()}]))

        assert (await wait_for_job(member, job_id))["status"] == "completed"
