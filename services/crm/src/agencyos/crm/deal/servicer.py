"""gRPC GetDeal: other services (work, billing) read one deal of the caller's agency."""

from __future__ import annotations

import uuid

import grpc

from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import (
    rfc3339,
    rpc_principal,
    rpc_session,
)
from agencyos.crm.deal.service import deal_service
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


class DealRpc(crm_pb2_grpc.CrmServiceServicer):
    """Mixed into the service's one CrmServicer."""

    async def GetDeal(
        self, request: crm_pb2.GetDealRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.Deal:
        principal = rpc_principal()
        principal.require("deals.read")
        try:
            deal_id = uuid.UUID(request.deal_id)
        except ValueError as exc:
            raise InvalidInput("deal_id must be a UUID") from exc
        session = rpc_session()
        row = await deal_service.get(session, deal_id)
        deal = row.deal
        return crm_pb2.Deal(
            id=str(deal.id),
            title=deal.title,
            client_id=str(deal.client_id),
            value_cents=deal.value_cents,
            currency=deal.currency,
            stage=row.stage_name,
            stage_kind=row.stage_kind,
            probability=row.probability,
            template_id=_text(deal.template_id),
            project_id=_text(deal.project_id),
            assigned_to=_text(deal.assigned_to),
            closed_at=rfc3339(deal.closed_at),
        )
