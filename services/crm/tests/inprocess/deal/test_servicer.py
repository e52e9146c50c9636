"""CRM's gRPC GetDeal (what work reads a won deal with): the deal with its stage and
probability, not found for another agency's or a missing deal, refused to a client user and to
a call without a token."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.crm.v1 import crm_pb2
from agencyos.protos.crm.v1.crm_pb2_grpc import CrmServiceStub
from agencyos.testing.deals import create_deal, moved
from agencyos.testing.factories import as_caller
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def get_deal_rpc(stub: CrmServiceStub, who: Caller, deal_id: str) -> crm_pb2.Deal:
    return await stub.GetDeal(
        crm_pb2.GetDealRequest(deal_id=deal_id), metadata=as_caller(who), timeout=10
    )


class TestGrpcGetDeal:
    async def test_the_deal_is_answered_with_its_stage_and_probability(
        self,
        in_process: InProcess,
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        template_id = str(in_process.standins.work.add_template(agency.agency_id))
        deal = await create_deal(
            crm, agency, client, value_cents=12_345_678_901, template_id=template_id
        )

        open_deal = await get_deal_rpc(crm_stub, agency, deal["id"])
        won = await moved(crm, agency, deal["id"], stage="won")
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
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)

        for deal_id in (deal["id"], str(uuid.uuid4())):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_deal_rpc(crm_stub, other_agency, deal_id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_deal_id_that_is_not_a_uuid_is_invalid(
        self, crm_stub: CrmServiceStub, agency: Caller
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, agency, "deal-1")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_client_user_is_refused(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_stub: CrmServiceStub,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)
        client_user = tenant.caller("client")

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, client_user, deal["id"])

        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_without_a_token_it_is_unauthenticated(self, crm_stub: CrmServiceStub) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await crm_stub.GetDeal(crm_pb2.GetDealRequest(deal_id=str(uuid.uuid4())), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
