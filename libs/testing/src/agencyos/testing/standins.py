"""Typed stand-ins for peer services' gRPC contracts, for the in-process tier.

Each subclasses the servicer generated from the peer's `.proto` (so its methods, requests and
replies are the contract's own types) and answers from what the test declared, per agency:
the service under test calls it over real gRPC, through its own peer code, with the caller's
token, exactly as it calls the real peer. Methods a stand-in does not implement answer
UNIMPLEMENTED, so a test that reaches one fails loudly instead of passing on a default.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from agencyos.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from agencyos.common.rpc import rpc_principal, service_authenticated
from agencyos.protos.billing.v1 import billing_pb2, billing_pb2_grpc
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.billing_standin import BillingStandIn
from agencyos.testing.keys import TestKeys
from agencyos.testing.standin_support import caller_tenant, peer_uuid, rfc3339
from agencyos.testing.work_standin import WorkStandIn

# What identity's stand-in answers a delegated token's lifetime to be (identity's default).
DELEGATED_TOKEN_TTL_SECONDS = 300


@dataclass
class IdentityStandIn(identity_pb2_grpc.IdentityServiceServicer):
    """identity's members and agencies, as the test declared them."""

    members: dict[tuple[uuid.UUID, uuid.UUID], identity_pb2.Member] = field(default_factory=dict)
    agencies: dict[uuid.UUID, identity_pb2.Agency] = field(default_factory=dict)
    # Signs delegated tokens (the in-process tier sets it to its test keys).
    keys: TestKeys | None = None
    # Every delegated token issued: (agency, user, purpose), in order.
    delegated: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)
    # Client invitations made (CreateClientInvitation), in order.
    client_invitations: list[identity_pb2.ClientInvitation] = field(default_factory=list)
    # Each invitation's agency, by invitation id.
    _tenants: dict[str, uuid.UUID] = field(default_factory=dict)

    def add_member(
        self,
        agency_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        role: str,
        status: str = "active",
        name: str = "",
        client_id: uuid.UUID | None = None,
    ) -> None:
        self.members[(agency_id, user_id)] = identity_pb2.Member(
            user_id=str(user_id),
            agency_id=str(agency_id),
            email=f"{user_id.hex[:10]}@example.com",
            name=name or f"Person {user_id.hex[:6]}",
            role=role,
            status=status,
            client_id=str(client_id) if client_id else "",
        )

    def set_status(self, agency_id: uuid.UUID, user_id: uuid.UUID, status: str) -> None:
        self.members[(agency_id, user_id)].status = status

    def add_agency(
        self,
        agency_id: uuid.UUID,
        *,
        timezone: str = "UTC",
        currency: str = "USD",
        name: str = "",
        invoice_prefix: str = "INV-",
        default_tax_rate_bps: int = 0,
        brand_color: str = "",
        logo_url: str = "",
    ) -> None:
        """An agency as identity answers it (identity's defaults: prefix "INV-", no tax)."""
        self.agencies[agency_id] = identity_pb2.Agency(
            id=str(agency_id),
            slug=f"agency-{agency_id.hex[:8]}",
            name=name or f"Agency {agency_id.hex[:6]}",
            timezone=timezone,
            currency=currency,
            invoice_prefix=invoice_prefix,
            default_tax_rate_bps=default_tax_rate_bps,
            brand_color=brand_color,
            logo_url=logo_url,
        )

    def update_agency(
        self,
        agency_id: uuid.UUID,
        *,
        timezone: str | None = None,
        currency: str | None = None,
        name: str | None = None,
        invoice_prefix: str | None = None,
        default_tax_rate_bps: int | None = None,
        brand_color: str | None = None,
        logo_url: str | None = None,
    ) -> None:
        """Change what identity answers about the agency (as `PATCH /v1/agency` would)."""
        agency = self.agencies[agency_id]
        changes = {
            "timezone": timezone,
            "currency": currency,
            "name": name,
            "invoice_prefix": invoice_prefix,
            "default_tax_rate_bps": default_tax_rate_bps,
            "brand_color": brand_color,
            "logo_url": logo_url,
        }
        for key, value in changes.items():
            if value is not None:
                setattr(agency, key, value)

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        member = self.members.get((caller_tenant(), peer_uuid(request.user_id)))
        if member is None:
            raise NotFound("member not found")
        return member

    async def GetMembers(
        self, request: identity_pb2.GetMembersRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetMembersResponse:
        tenant = caller_tenant()
        found = [self.members.get((tenant, peer_uuid(u))) for u in request.user_ids]
        return identity_pb2.GetMembersResponse(members=[m for m in found if m is not None])

    async def CreateClientInvitation(
        self,
        request: identity_pb2.CreateClientInvitationRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.ClientInvitation:
        """identity's rules as far as the stand-in knows them: `members.invite` and a verified
        email (from the token), ALREADY_EXISTS for a declared member's address or an address
        invited before (in `client_invitations`). Every client id is taken as the agency's."""
        principal = rpc_principal()
        principal.require("members.invite")
        principal.require_verified_email("invite people")
        tenant = caller_tenant()
        email = request.email.strip().lower()
        members = (m for (agency, _), m in self.members.items() if agency == tenant)
        invited = (i for i in self.client_invitations if self._tenants[i.id] == tenant)
        if any(m.email == email for m in members) or any(i.email == email for i in invited):
            raise Conflict("this person is already a member of the agency or invited to it")
        now = time.time()
        invitation = identity_pb2.ClientInvitation(
            id=str(uuid.uuid4()),
            email=email,
            role="client",
            client_id=request.client_id,
            status="pending",
            invited_by=str(principal.user_id),
            created_at=rfc3339(now),
            expires_at=rfc3339(now + 7 * 24 * 3600),
        )
        self._tenants[invitation.id] = tenant
        self.client_invitations.append(invitation)
        return invitation

    async def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Agency:
        agency = self.agencies.get(caller_tenant())
        if agency is None:
            raise NotFound("agency not found")
        return agency

    @service_authenticated
    async def IssueDelegatedToken(
        self, request: identity_pb2.IssueDelegatedTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DelegatedToken:
        """A token for a declared active member, signed with the test keys as identity signs
        one (the role's permissions, `act` and `purpose`); the service credential is checked
        by the server as identity's is."""
        assert self.keys is not None, "the identity stand-in has no keys to sign with"
        tenant_id, user_id = peer_uuid(request.tenant_id), peer_uuid(request.user_id)
        member = self.members.get((tenant_id, user_id))
        if member is None or member.status != "active":
            raise PreconditionFailed("the user is not an active member of this agency")
        if not request.purpose.strip():
            raise InvalidInput("purpose must be 1 to 200 printable characters")
        claims: dict[str, Any] = {
            "sub": member.user_id,
            "tid": member.agency_id,
            "role": member.role,
            "act": {"sub": "agencyos-notification"},
            "purpose": request.purpose,
        }
        if member.client_id:
            claims["cid"] = member.client_id
        now = int(time.time())
        token = self.keys.mint(iat=now, exp=now + DELEGATED_TOKEN_TTL_SECONDS, **claims)
        self.delegated.append((tenant_id, user_id, request.purpose))
        return identity_pb2.DelegatedToken(
            access_token=token, expires_in=DELEGATED_TOKEN_TTL_SECONDS
        )


@dataclass
class CrmStandIn(crm_pb2_grpc.CrmServiceServicer):
    """CRM's clients, as the test declared them."""

    clients: dict[tuple[uuid.UUID, uuid.UUID], crm_pb2.Client] = field(default_factory=dict)
    # AddTimelineEntry calls answered: (the entry's id, the caller's user id, the request).
    timeline: list[tuple[uuid.UUID, uuid.UUID, crm_pb2.AddTimelineEntryRequest]] = field(
        default_factory=list
    )

    def add_client(self, agency_id: uuid.UUID, *, currency: str = "USD") -> uuid.UUID:
        client_id = uuid.uuid4()
        self.clients[(agency_id, client_id)] = crm_pb2.Client(
            id=str(client_id), company_name=f"Client {client_id.hex[:6]}", currency=currency
        )
        return client_id

    async def GetClients(
        self, request: crm_pb2.GetClientsRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.GetClientsResponse:
        tenant = caller_tenant()
        found = [self.clients.get((tenant, peer_uuid(c))) for c in request.client_ids]
        return crm_pb2.GetClientsResponse(clients=[c for c in found if c is not None])

    async def AddTimelineEntry(
        self, request: crm_pb2.AddTimelineEntryRequest, context: grpc.aio.ServicerContext
    ) -> crm_pb2.TimelineEntryRef:
        """A note on a client of the caller's agency, with `clients.write` (CRM's rule);
        recorded in `timeline`."""
        principal = rpc_principal()
        principal.require("clients.write")
        if (caller_tenant(), peer_uuid(request.client_id)) not in self.clients:
            raise NotFound("no such client")
        if not request.title.strip():
            raise InvalidInput("invalid fields: title")
        entry_id = uuid.uuid4()
        self.timeline.append((entry_id, principal.user_id, request))
        return crm_pb2.TimelineEntryRef(id=str(entry_id))


@dataclass
class StandIns:
    """One of each stand-in, served together by one in-process gRPC server."""

    identity: IdentityStandIn = field(default_factory=IdentityStandIn)
    work: WorkStandIn = field(default_factory=WorkStandIn)
    crm: CrmStandIn = field(default_factory=CrmStandIn)
    billing: BillingStandIn = field(default_factory=BillingStandIn)

    def register(self, server: grpc.aio.Server) -> Sequence[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(self.identity, server)
        work_pb2_grpc.add_WorkServiceServicer_to_server(self.work, server)
        crm_pb2_grpc.add_CrmServiceServicer_to_server(self.crm, server)
        billing_pb2_grpc.add_BillingServiceServicer_to_server(self.billing, server)
        return [
            identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
            work_pb2.DESCRIPTOR.services_by_name["WorkService"].full_name,
            crm_pb2.DESCRIPTOR.services_by_name["CrmService"].full_name,
            billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name,
        ]
