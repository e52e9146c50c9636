"""What work asks other services when a person creates or changes a project: identity
whether users are active members of the agency, CRM whether a client exists. Over gRPC with
the caller's own token, so the peers answer for the caller's agency only."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from agencyos.common.auth import Principal
from agencyos.common.rpc import call, channel
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


@dataclass(frozen=True)
class ClientInfo:
    id: uuid.UUID
    currency: str | None


class Peers:
    def __init__(self, identity_target: str, crm_target: str, timeout: float) -> None:
        self.identity_target = identity_target
        self.crm_target = crm_target
        self.timeout = timeout

    async def staff_members(
        self, principal: Principal, user_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Those of `user_ids` who are active members of the caller's agency and not client
        users (client users reach projects through the portal, never as members)."""
        if not user_ids:
            return set()
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        response = await call(
            stub.GetMembers,
            identity_pb2.GetMembersRequest(user_ids=[str(u) for u in dict.fromkeys(user_ids)]),
            principal=principal,
            timeout=self.timeout,
        )
        return {
            uuid.UUID(m.user_id)
            for m in response.members
            if m.status == "active" and m.role != "client"
        }

    async def client(self, principal: Principal, client_id: uuid.UUID) -> ClientInfo | None:
        """The CRM client of the caller's agency, or None."""
        stub = crm_pb2_grpc.CrmServiceStub(channel(self.crm_target))
        response = await call(
            stub.GetClients,
            crm_pb2.GetClientsRequest(client_ids=[str(client_id)]),
            principal=principal,
            timeout=self.timeout,
        )
        for found in response.clients:
            if found.id == str(client_id):
                return ClientInfo(id=client_id, currency=found.currency or None)
        return None
