"""gRPC CrmService: other services read the caller's agency's clients."""

from __future__ import annotations

import uuid

import grpc
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import (
    rpc_principal,
    rpc_session,
)
from agencyos.crm.deal.servicer import DealRpc
from agencyos.crm.models import Client, Contact
from agencyos.crm.timeline.servicer import TimelineRpc
from agencyos.protos.crm.v1 import crm_pb2

MAX_IDS = 500


class CrmServicer(DealRpc, TimelineRpc):
    """The one CrmService servicer (deal and timeline methods are mixins). Each call runs in the
    transaction the gRPC server opened for it (`rpc_session()`)."""

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
        session = rpc_session()
        rows = (await session.execute(select(Client).where(Client.id.in_(ids)))).scalars()
        found = list(rows)
        primaries = await _primary_contacts(session, [c.id for c in found])
        clients = [_client_message(c, primaries.get(c.id)) for c in found]
        return crm_pb2.GetClientsResponse(clients=clients)


async def _primary_contacts(
    session: AsyncSession, client_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Contact]:
    """Each client's primary contact (a client with contacts has exactly one)."""
    if not client_ids:
        return {}
    stmt = select(Contact).where(Contact.client_id.in_(client_ids), Contact.is_primary.is_(True))
    return {c.client_id: c for c in (await session.execute(stmt)).scalars()}


def _client_message(client: Client, primary: Contact | None) -> crm_pb2.Client:
    return crm_pb2.Client(
        id=str(client.id),
        company_name=client.company_name,
        status=client.status,
        owner_id=str(client.owner_id or ""),
        currency=client.currency or "",
        address_line1=client.address_line1 or "",
        address_line2=client.address_line2 or "",
        city=client.city or "",
        region=client.region or "",
        postal_code=client.postal_code or "",
        country=client.country or "",
        primary_contact_name=primary.name if primary else "",
        primary_contact_email=(primary.email or "") if primary else "",
    )
