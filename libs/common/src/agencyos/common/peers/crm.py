"""The typed client of CRM's gRPC contract (`agencyos.crm.v1.CrmService`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.peers._base import ByIdMemo, optional_uuid
from agencyos.common.rpc import call, call_for_ids, channel
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc


@dataclass(frozen=True)
class Client:
    """A client company of the caller's agency, with its billing address and primary contact."""

    id: uuid.UUID
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    currency: str | None
    address_lines: tuple[str, ...]
    country: str | None
    contact_name: str | None
    contact_email: str | None


def client_of(message: crm_pb2.Client) -> Client:
    city_line = " ".join(part for part in (message.postal_code, message.city) if part)
    lines = (
        message.address_line1,
        message.address_line2,
        city_line,
        message.region,
        message.country,
    )
    return Client(
        id=uuid.UUID(message.id),
        company_name=message.company_name,
        status=message.status,
        owner_id=optional_uuid(message.owner_id),
        currency=message.currency or None,
        address_lines=tuple(line for line in lines if line),
        country=message.country or None,
        contact_name=message.primary_contact_name or None,
        contact_email=message.primary_contact_email or None,
    )


class CrmClient:
    def __init__(self, target: str, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._clients: ByIdMemo[Client] = ByIdMemo()

    @cached_property
    def stub(self) -> crm_pb2_grpc.CrmServiceStub:
        # Made at the first call, on the event loop (a client may be built in a sync FastAPI
        # dependency, which runs in a worker thread), then kept for the client's lifetime.
        return crm_pb2_grpc.CrmServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> CrmClient:
        return cls(settings.crm_grpc_target, settings.grpc_timeout_seconds)

    async def clients(
        self, principal: Principal, client_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Client]:
        """The clients of the caller's agency among `client_ids`; the others are absent (another
        agency's client is as unknown as a made-up id)."""
        return await self._clients.get(
            principal, client_ids, lambda ids: self._fetch(principal, ids)
        )

    async def client(self, principal: Principal, client_id: uuid.UUID) -> Client | None:
        return (await self.clients(principal, [client_id])).get(client_id)

    async def add_timeline_entry(
        self, principal: Principal, *, client_id: uuid.UUID, title: str, body: str | None = None
    ) -> uuid.UUID:
        """A note on the client's timeline by the caller; its id. Raises NotFound for a client
        not in the caller's agency, PermissionDenied without `clients.write`, InvalidInput
        naming what CRM refused."""
        message = await call(
            self.stub.AddTimelineEntry,
            crm_pb2.AddTimelineEntryRequest(client_id=str(client_id), title=title, body=body or ""),
            principal=principal,
            timeout=self.timeout,
        )
        return uuid.UUID(message.id)

    async def _fetch(
        self, principal: Principal, client_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Client]:
        responses = await call_for_ids(
            self.stub.GetClients,
            client_ids,
            lambda batch: crm_pb2.GetClientsRequest(client_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        found = (client_of(c) for response in responses for c in response.clients)
        return {c.id: c for c in found}
