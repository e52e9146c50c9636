"""What identity asks CRM: does a client exist (a client-role membership is bound to one)."""

from __future__ import annotations

import uuid

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import call, channel
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


async def ensure_client_exists(principal: Principal, target: str, client_id: uuid.UUID) -> None:
    """Raise InvalidInput naming `client_id` unless it is a client of the caller's agency.

    Asked with the caller's own token, so CRM's tenancy decides: another agency's client is
    as unknown as a made-up id."""
    stub = crm_pb2_grpc.CrmServiceStub(channel(target))
    found = await call(
        stub.GetClients,
        crm_pb2.GetClientsRequest(client_ids=[str(client_id)]),
        principal=principal,
    )
    if not any(c.id == str(client_id) for c in found.clients):
        raise InvalidInput(
            "client_id is not a client of this agency",
            errors=[{"field": "client_id", "message": "no such client", "type": "not_found"}],
        )
