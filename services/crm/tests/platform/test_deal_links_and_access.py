"""Deals and the rest of the platform: work's `work.project.created` linking a project to its
deal, who may do what, tenant isolation, and gRPC GetDeal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.events import CloudEvent, ProjectCreated, build_event
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc
from agencyos.testing.deals import (
    board,
    create_client,
    create_deal,
    create_template,
    default_pipeline,
    get_deal,
    list_deals,
    move,
    moved,
    timeline_rows,
)
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_problem
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import (
    TopicWriter,
)
from agencyos.testing.platform import Platform

# --- work.project.created -----------------------------------------------------------------------


def project_created(
    agency: AgencySession, deal: dict[str, Any] | None, name: str = "Shop build"
) -> CloudEvent:
    project_id = uuid.uuid4()
    return build_event(
        ProjectCreated(
            project_id=project_id,
            name=name,
            client_id=uuid.UUID(deal["client_id"]) if deal else None,
            deal_id=uuid.UUID(deal["id"]) if deal else None,
            created_by=None,
        ),
        tenant_id=agency.agency_id,
        source_service="work",
        subject=f"projects/{project_id}",
    )


class TestProjectCreated:
    async def test_the_deal_shows_its_project_and_the_timeline_says_so(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        # The deal stays open here: the running work service makes a project of its own for
        # every won deal, and this test is about the event it sends, written by hand.
        deal = await create_deal(gateway, agency, client, title="Shop")
        event = project_created(agency, deal)

        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            found = await get_deal(gateway, agency, deal["id"])
            return found["project_id"] == event.data["project_id"]

        await wait_for(linked, timeout=30)
        rows = [
            r
            for r in await timeline_rows(platform, agency, client["id"])
            if r["kind"] == "project_created"
        ]
        assert len(rows) == 1
        assert rows[0]["source_event_id"] == event.id
        assert rows[0]["title"] == "Project Shop build created from deal Shop"

    async def test_a_redelivered_event_links_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        sentinel_deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        sentinel = project_created(agency, sentinel_deal)
        topic = f"{platform.topic_prefix}work.events"

        for _ in range(3):
            await writer.send_event(topic, event)
        await writer.send_event(topic, sentinel)

        async def sentinel_linked() -> bool:
            found = await get_deal(gateway, agency, sentinel_deal["id"])
            return found["project_id"] == sentinel.data["project_id"]

        await wait_for(sentinel_linked, timeout=30)
        assert (await get_deal(gateway, agency, deal["id"]))["project_id"] == event.data[
            "project_id"
        ]
        rows = await timeline_rows(platform, agency, client["id"])
        assert [r["source_event_id"] for r in rows if r["kind"] == "project_created"] == [
            event.id,
            sentinel.id,
        ]

    async def test_a_deal_with_a_project_cannot_be_deleted(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            return bool((await get_deal(gateway, agency, deal["id"]))["project_id"])

        await wait_for(linked, timeout=30)

        response = await gateway.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")


# --- permissions --------------------------------------------------------------------------------


class TestPermissions:
    async def test_a_member_reads_deals_but_may_not_write_them(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        member = await add_member(platform, gateway, agency, "member")
        h = member.headers

        reads = [
            await gateway.get("/v1/deals", headers=h),
            await gateway.get(f"/v1/deals/{deal['id']}", headers=h),
            await gateway.get("/v1/deals/board", headers=h),
        ]
        writes = [
            await gateway.post(
                "/v1/deals",
                json={"title": "x", "client_id": client["id"]},
                headers=h,
            ),
            await gateway.patch(f"/v1/deals/{deal['id']}", json={"title": "x"}, headers=h),
            await gateway.put(f"/v1/deals/{deal['id']}/stage", json={"stage": "won"}, headers=h),
            await gateway.delete(f"/v1/deals/{deal['id']}", headers=h),
        ]
        forecast = await gateway.get("/v1/deals/forecast?group_by=month", headers=h)

        assert [r.status_code for r in reads] == [200, 200, 200], [r.text for r in reads]
        for response in writes:
            assert "deals.write" in assert_problem(response, 403, "permission-denied")["detail"]
        assert "reports.financial.read" in assert_problem(forecast, 403)["detail"]
        assert await get_deal(gateway, agency, deal["id"]) == deal

    async def test_a_manager_may_create_and_move_deals_and_read_the_forecast(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        deal = await create_deal(gateway, manager, client)
        won = await moved(gateway, manager, deal["id"], stage="won")
        forecast = await gateway.get("/v1/deals/forecast?group_by=stage", headers=manager.headers)

        assert deal["assigned_to"] == str(manager.user_id)
        assert won["status"] == "won"
        assert forecast.status_code == 200, forecast.text

    async def test_a_client_user_may_not_see_deals(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        client_user = await add_member(platform, gateway, agency, "client")
        h = client_user.headers

        for response in (
            await gateway.get("/v1/deals", headers=h),
            await gateway.get(f"/v1/deals/{deal['id']}", headers=h),
            await gateway.get("/v1/deals/board", headers=h),
            await gateway.get("/v1/deals/forecast?group_by=owner", headers=h),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_without_a_token_it_is_a_401(self, gateway: httpx.AsyncClient) -> None:
        assert_problem(await gateway.get("/v1/deals"), 401, "unauthenticated")


# --- tenant isolation ---------------------------------------------------------------------------


class TestTenantIsolation:
    async def test_another_agencys_deal_is_a_404_on_every_route_like_a_missing_one(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        theirs = await create_deal(
            gateway, other_agency, await create_client(gateway, other_agency, currency="EUR")
        )
        me = agency.headers
        details = set()
        for deal_id in (theirs["id"], str(uuid.uuid4())):
            for response in (
                await gateway.get(f"/v1/deals/{deal_id}", headers=me),
                await gateway.patch(f"/v1/deals/{deal_id}", json={"title": "x"}, headers=me),
                await gateway.delete(f"/v1/deals/{deal_id}", headers=me),
                await gateway.put(f"/v1/deals/{deal_id}/stage", json={"stage": "won"}, headers=me),
            ):
                details.add(assert_problem(response, 404, "not-found")["detail"])
        assert details == {"no such deal"}
        assert await get_deal(gateway, other_agency, theirs["id"]) == theirs

    async def test_another_agencys_client_pipeline_or_stage_is_a_404_when_creating(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        their_client = await create_client(gateway, other_agency, currency="EUR")
        their_pipeline = await default_pipeline(gateway, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]
        base = {"title": "x", "client_id": client["id"]}

        for body in (
            {**base, "client_id": their_client["id"]},
            {**base, "client_id": str(uuid.uuid4())},
            {**base, "pipeline_id": their_pipeline["id"]},
            {**base, "stage": their_stage},
            {**base, "stage": str(uuid.uuid4())},
        ):
            response = await gateway.post("/v1/deals", json=body, headers=agency.headers)
            assert_problem(response, 404, "not-found")
        assert (await list_deals(gateway, agency))["total"] == 0
        assert (await list_deals(gateway, other_agency))["total"] == 0

    async def test_another_agencys_stage_or_anchor_deal_is_a_404_when_moving(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        mine = await create_deal(gateway, agency, client)
        theirs = await create_deal(
            gateway, other_agency, await create_client(gateway, other_agency, currency="EUR")
        )
        their_stage = (await default_pipeline(gateway, other_agency))["stages"][1]["id"]

        to_their_stage = await move(gateway, agency, mine["id"], stage=their_stage)
        before_theirs = await move(
            gateway, agency, mine["id"], stage="lead", before_id=theirs["id"]
        )
        after_missing = await move(
            gateway, agency, mine["id"], stage="lead", after_id=str(uuid.uuid4())
        )

        assert_problem(to_their_stage, 404, "not-found")
        assert_problem(before_theirs, 404, "not-found")
        assert_problem(after_missing, 404, "not-found")
        assert await get_deal(gateway, agency, mine["id"]) == mine

    async def test_another_agencys_pipeline_is_a_404_on_board_forecast_and_list(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        their_pipeline = await default_pipeline(gateway, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]

        for response in (
            await gateway.get(
                "/v1/deals/board",
                params={"pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await gateway.get(
                "/v1/deals/forecast",
                params={"group_by": "stage", "pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await gateway.get("/v1/deals", params={"stage": their_stage}, headers=agency.headers),
        ):
            assert_problem(response, 404, "not-found")

    async def test_another_agency_lists_sees_and_forecasts_none_of_the_deals(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        await create_deal(gateway, agency, client, value_cents=1_000)

        page = await list_deals(gateway, other_agency)
        view = await board(gateway, other_agency)
        forecast = await gateway.get(
            "/v1/deals/forecast?group_by=month", headers=other_agency.headers
        )

        assert page["total"] == 0
        assert all(s["count"] == 0 for s in view["stages"])
        assert forecast.json()["groups"] == []


# --- gRPC ---------------------------------------------------------------------------------------


@pytest.fixture
async def crm_stub(platform: Platform) -> AsyncIterator[crm_pb2_grpc.CrmServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("crm")) as channel:
        yield crm_pb2_grpc.CrmServiceStub(channel)


async def get_deal_rpc(
    stub: crm_pb2_grpc.CrmServiceStub, who: AgencySession, deal_id: str
) -> crm_pb2.Deal:
    return await stub.GetDeal(
        crm_pb2.GetDealRequest(deal_id=deal_id),
        metadata=[("authorization", f"Bearer {who.access_token}")],
        timeout=10,
    )


class TestGrpcGetDeal:
    async def test_the_deal_is_answered_with_its_stage_and_probability(
        self,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        template_id = await create_template(gateway, agency)
        deal = await create_deal(
            gateway, agency, client, value_cents=12_345_678_901, template_id=template_id
        )

        open_deal = await get_deal_rpc(crm_stub, agency, deal["id"])
        won = await moved(gateway, agency, deal["id"], stage="won")
        won_deal = await get_deal_rpc(crm_stub, agency, deal["id"])

        assert (open_deal.id, open_deal.title, open_deal.client_id) == (
            deal["id"],
            deal["title"],
            client["id"],
        )
        assert (open_deal.value_cents, open_deal.currency) == (12_345_678_901, "EUR")
        assert (open_deal.stage, open_deal.stage_kind, open_deal.probability) == (
            "lead",
            "open",
            10,
        )
        assert open_deal.template_id == template_id
        assert (open_deal.project_id, open_deal.closed_at) == ("", "")
        assert open_deal.assigned_to == str(agency.user_id)
        assert (won_deal.stage, won_deal.stage_kind, won_deal.probability) == ("won", "won", 100)
        assert won_deal.closed_at.endswith("Z")
        assert won_deal.closed_at[:19] == won["closed_at"][:19]

    async def test_another_agencys_or_a_missing_deal_is_not_found(
        self,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        for deal_id in (deal["id"], str(uuid.uuid4())):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_deal_rpc(crm_stub, other_agency, deal_id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_deal_id_that_is_not_a_uuid_is_invalid(
        self, crm_stub: crm_pb2_grpc.CrmServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, agency, "deal-1")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_client_user_is_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        client_user = await add_member(platform, gateway, agency, "client")

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, client_user, deal["id"])

        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_without_a_token_it_is_unauthenticated(
        self, crm_stub: crm_pb2_grpc.CrmServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await crm_stub.GetDeal(crm_pb2.GetDealRequest(deal_id=str(uuid.uuid4())), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
