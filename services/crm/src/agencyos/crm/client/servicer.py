"""gRPC CrmService: other services read the caller's agency's clients."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy import select

from agencyos.common.db import Database
from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import rpc_principal
from agencyos.crm.deal.servicer import DealRpc
from agencyos.crm.models import Client
from agencyos.protos.crm.v1 import crm_pb2

MAX_IDS = 500


class CrmServicer(DealRpc):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetClients(
        self, request: crm_pb2.GetClientsRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.GetClientsResponse:
        principal = rpc_principal()
        principal.require("clients.read")
        if len(request.client_ids) > MAX_IDS:
            raise InvalidInput(f"at most {MAX_IDS} client ids per call")
        try:
            ids = [uuid.UUID(raw) for raw in request.client_ids]
        except ValueError as exc:
            raise InvalidInput("client_ids must be UUIDs") from exc
        async with self.db.transaction(principal.tenant_id) as session:
            rows = (await session.execute(select(Client).where(Client.id.in_(ids)))).scalars()
            clients = [
                crm_pb2.Client(
                    id=str(c.id),
                    company_name=c.company_name,
                    status=c.status,
                    owner_id=str(c.owner_id or ""),
                    currency=c.currency or "",
                )
                for c in rows
            ]
        return crm_pb2.GetClientsResponse(clients=clients)
