"""Who may touch rates (`rate/permissions.py`): a member may neither read, resolve nor write
them, another agency sees and deletes none of them, and a caller without a token is refused."""

from __future__ import annotations

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.rates import create_rate, list_rates, rate_fields


class TestWhoMayTouchRates:
    async def test_a_member_may_neither_read_nor_write_rates(
        self, in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        member = tenant.caller("member")
        project = tenant.new_project(member)
        future = await create_rate(time_api, agency, **rate_fields("agency", 10_000, "2099-01-01"))

        responses = [
            await time_api.get("/v1/rates", headers=member.headers),
            await time_api.get(f"/v1/rates/{future['id']}", headers=member.headers),
            await time_api.get(
                "/v1/rates/resolve",
                params={"user_id": str(member.user_id), "project_id": project["id"]},
                headers=member.headers,
            ),
            await time_api.post(
                "/v1/rates",
                json=rate_fields("member", 99_999, "2026-01-01", user=member),
                headers=member.headers,
            ),
            await time_api.delete(f"/v1/rates/{future['id']}", headers=member.headers),
        ]

        for response in responses:
            assert_problem(response, 403, "permission-denied")
        assert (await list_rates(time_api, agency))["total"] == 1

    async def test_another_agency_sees_and_deletes_none_of_them(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_api: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        future = await create_rate(time_api, agency, **rate_fields("agency", 10_000, "2099-01-01"))
        ours = tenant.new_project()

        assert (await list_rates(time_api, other_agency))["total"] == 0
        fetched = await time_api.get(f"/v1/rates/{future['id']}", headers=other_agency.headers)
        assert_problem(fetched, 404, "not-found")
        deleted = await time_api.delete(f"/v1/rates/{future['id']}", headers=other_agency.headers)
        assert_problem(deleted, 404, "not-found")
        resolved = await time_api.get(
            "/v1/rates/resolve",
            params={"user_id": str(agency.user_id), "project_id": ours["id"]},
            headers=other_agency.headers,
        )
        assert_problem(resolved, 404, "not-found")
        assert (await list_rates(time_api, agency))["total"] == 1

    async def test_an_unauthenticated_caller_is_refused(self, time_api: httpx.AsyncClient) -> None:
        assert_problem(await time_api.get("/v1/rates"), 401, "unauthenticated")
