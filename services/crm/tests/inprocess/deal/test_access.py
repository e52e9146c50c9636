"""Who may do what with deals (403 for a role without the permission, 401 without a token),
and tenant isolation (another agency's deal, client, pipeline or stage is a 404 like a missing
one, and another agency lists, sees and forecasts none of the deals)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.deals import (
    board,
    create_client,
    create_deal,
    default_pipeline,
    get_deal,
    list_deals,
    move,
    moved,
)
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller


class TestPermissions:
    async def test_a_member_reads_deals_but_may_not_write_them(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)
        member = tenant.caller("member")
        h = member.headers

        reads = [
            await crm.get("/v1/deals", headers=h),
            await crm.get(f"/v1/deals/{deal['id']}", headers=h),
            await crm.get("/v1/deals/board", headers=h),
        ]
        writes = [
            await crm.post(
                "/v1/deals",
                json={"title": "x", "client_id": client["id"]},
                headers=h,
            ),
            await crm.patch(f"/v1/deals/{deal['id']}", json={"title": "x"}, headers=h),
            await crm.put(f"/v1/deals/{deal['id']}/stage", json={"stage": "won"}, headers=h),
            await crm.delete(f"/v1/deals/{deal['id']}", headers=h),
        ]
        forecast = await crm.get("/v1/deals/forecast?group_by=month", headers=h)

        assert [r.status_code for r in reads] == [200, 200, 200], [r.text for r in reads]
        for response in writes:
            assert "deals.write" in assert_problem(response, 403, "permission-denied")["detail"]
        assert "reports.financial.read" in assert_problem(forecast, 403)["detail"]
        assert await get_deal(crm, agency, deal["id"]) == deal

    async def test_a_manager_may_create_and_move_deals_and_read_the_forecast(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        manager = tenant.caller("manager")

        deal = await create_deal(crm, manager, client)
        won = await moved(crm, manager, deal["id"], stage="won")
        forecast = await crm.get("/v1/deals/forecast?group_by=stage", headers=manager.headers)

        assert deal["assigned_to"] == str(manager.user_id)
        assert won["status"] == "won"
        assert forecast.status_code == 200, forecast.text

    async def test_a_client_user_may_not_see_deals(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)
        client_user = tenant.caller("client")
        h = client_user.headers

        for response in (
            await crm.get("/v1/deals", headers=h),
            await crm.get(f"/v1/deals/{deal['id']}", headers=h),
            await crm.get("/v1/deals/board", headers=h),
            await crm.get("/v1/deals/forecast?group_by=owner", headers=h),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_without_a_token_it_is_a_401(self, crm: httpx.AsyncClient) -> None:
        assert_problem(await crm.get("/v1/deals"), 401, "unauthenticated")


class TestTenantIsolation:
    async def test_another_agencys_deal_is_a_404_on_every_route_like_a_missing_one(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        theirs = await create_deal(
            crm, other_agency, await create_client(crm, other_agency, currency="EUR")
        )
        me = agency.headers
        details = set()
        for deal_id in (theirs["id"], str(uuid.uuid4())):
            for response in (
                await crm.get(f"/v1/deals/{deal_id}", headers=me),
                await crm.patch(f"/v1/deals/{deal_id}", json={"title": "x"}, headers=me),
                await crm.delete(f"/v1/deals/{deal_id}", headers=me),
                await crm.put(f"/v1/deals/{deal_id}/stage", json={"stage": "won"}, headers=me),
            ):
                details.add(assert_problem(response, 404, "not-found")["detail"])
        assert details == {"no such deal"}
        assert await get_deal(crm, other_agency, theirs["id"]) == theirs

    async def test_another_agencys_client_pipeline_or_stage_is_a_404_when_creating(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        their_client = await create_client(crm, other_agency, currency="EUR")
        their_pipeline = await default_pipeline(crm, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]
        base = {"title": "x", "client_id": client["id"]}

        for body in (
            {**base, "client_id": their_client["id"]},
            {**base, "client_id": str(uuid.uuid4())},
            {**base, "pipeline_id": their_pipeline["id"]},
            {**base, "stage": their_stage},
            {**base, "stage": str(uuid.uuid4())},
        ):
            response = await crm.post("/v1/deals", json=body, headers=agency.headers)
            assert_problem(response, 404, "not-found")
        assert (await list_deals(crm, agency))["total"] == 0
        assert (await list_deals(crm, other_agency))["total"] == 0

    async def test_another_agencys_stage_or_anchor_deal_is_a_404_when_moving(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        mine = await create_deal(crm, agency, client)
        theirs = await create_deal(
            crm, other_agency, await create_client(crm, other_agency, currency="EUR")
        )
        their_stage = (await default_pipeline(crm, other_agency))["stages"][1]["id"]

        to_their_stage = await move(crm, agency, mine["id"], stage=their_stage)
        before_theirs = await move(crm, agency, mine["id"], stage="lead", before_id=theirs["id"])
        after_missing = await move(
            crm, agency, mine["id"], stage="lead", after_id=str(uuid.uuid4())
        )

        assert_problem(to_their_stage, 404, "not-found")
        assert_problem(before_theirs, 404, "not-found")
        assert_problem(after_missing, 404, "not-found")
        assert await get_deal(crm, agency, mine["id"]) == mine

    async def test_another_agencys_pipeline_is_a_404_on_board_forecast_and_list(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        their_pipeline = await default_pipeline(crm, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]

        for response in (
            await crm.get(
                "/v1/deals/board",
                params={"pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await crm.get(
                "/v1/deals/forecast",
                params={"group_by": "stage", "pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await crm.get("/v1/deals", params={"stage": their_stage}, headers=agency.headers),
        ):
            assert_problem(response, 404, "not-found")

    async def test_another_agency_lists_sees_and_forecasts_none_of_the_deals(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        await create_deal(crm, agency, client, value_cents=1_000)

        page = await list_deals(crm, other_agency)
        view = await board(crm, other_agency)
        forecast = await crm.get("/v1/deals/forecast?group_by=month", headers=other_agency.headers)

        assert page["total"] == 0
        assert all(s["count"] == 0 for s in view["stages"])
        assert forecast.json()["groups"] == []
