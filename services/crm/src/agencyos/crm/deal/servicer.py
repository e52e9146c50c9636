"""gRPC GetDeal: other services (work, billing) read one deal of the caller's agency."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import grpc

from agencyos.common.db import Database
from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import rpc_principal
from agencyos.crm.deal.service import deal_service
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


def _text(value: object | None) -> str:
    return "" if value is None else str(value)


def _rfc3339(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else ""


class DealRpc(crm_pb2_grpc.CrmServiceServicer):
    """Mixed into the service's one CrmServicer, which provides `db`."""

    db: Database

    async def GetDeal(
        self, request: crm_pb2.GetDealRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.Deal:
        principal = rpc_principal()
        principal.require("deals.read")
        try:
            deal_id = uuid.UUID(request.deal_id)
        except ValueError as exc:
            raise InvalidInput("deal_id must be a UUID") from exc
        async with self.db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
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
            closed_at=_rfc3339(deal.closed_at),
        )
