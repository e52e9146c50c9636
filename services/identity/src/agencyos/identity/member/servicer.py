"""gRPC IdentityService: other services ask about members, permissions and the agency of the
caller (the agency is always the caller's token's, never a request field)."""

from __future__ import annotations

import grpc

from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.permissions import ALL_PERMISSIONS
from agencyos.common.revocation import RevocationStore
from agencyos.common.rpc import (
    parse_uuid,
    parse_uuids,
    rpc_principal,
    rpc_session,
)
from agencyos.common.settings import ServiceSettings
from agencyos.identity.api_key.servicer import ApiKeyRpc
from agencyos.identity.invitation.servicer import InvitationRpc
from agencyos.identity.member.service import MemberView, member_service
from agencyos.identity.models import Agency
from agencyos.identity.portal_sign_in.servicer import PortalSignInRpc
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.servicer import DelegatedTokenRpc
from agencyos.protos.identity.v1 import identity_pb2

MAX_MEMBERS_PER_CALL = 500


def _member(view: MemberView) -> identity_pb2.Member:
    m, u = view.membership, view.user
    return identity_pb2.Member(
        user_id=str(u.id),
        agency_id=str(m.tenant_id),
        email=u.email,
        name=u.name,
        role=m.role,
        status=m.status,
        client_id=str(m.client_id) if m.client_id else "",
        permissions=sorted(view.permissions),
    )


def agency_message(agency: Agency) -> identity_pb2.Agency:
    return identity_pb2.Agency(
        id=str(agency.id),
        slug=agency.slug,
        name=agency.name,
        currency=agency.currency,
        timezone=agency.timezone,
        logo_url=agency.logo_url or "",
        brand_color=agency.brand_color or "",
        invoice_prefix=agency.invoice_prefix,
        default_tax_rate_bps=agency.default_tax_rate_bps,
    )


class IdentityServicer(ApiKeyRpc, DelegatedTokenRpc, InvitationRpc, PortalSignInRpc):
    def __init__(
        self, settings: ServiceSettings, revocations: RevocationStore | None = None
    ) -> None:
        assert isinstance(settings, IdentitySettings)
        self.settings = settings
        # Ending and refreshing portal sessions stops their access tokens at once.
        self.revocations = revocations

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        principal = rpc_principal()
        user_id = parse_uuid(request.user_id, "user_id")
        session = rpc_session()
        views = await member_service.many(session, principal.tenant_id, [user_id])
        if not views:
            raise NotFound("no such member in this agency")
        return _member(views[0])

    async def GetMembers(
        self, request: identity_pb2.GetMembersRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.GetMembersResponse:
        principal = rpc_principal()
        user_ids = list(parse_uuids(request.user_ids, "user_ids", MAX_MEMBERS_PER_CALL))
        if not user_ids:
            return identity_pb2.GetMembersResponse()
        session = rpc_session()
        views = await member_service.many(session, principal.tenant_id, user_ids)
        order = {user_id: i for i, user_id in enumerate(user_ids)}
        views.sort(key=lambda v: order[v.user.id])
        return identity_pb2.GetMembersResponse(members=[_member(v) for v in views])

    async def CheckPermission(
        self, request: identity_pb2.CheckPermissionRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.CheckPermissionResponse:
        principal = rpc_principal()
        user_id = parse_uuid(request.user_id, "user_id")
        if request.permission not in ALL_PERMISSIONS:
            raise InvalidInput(f"unknown permission '{request.permission}'")
        session = rpc_session()
        views = await member_service.many(session, principal.tenant_id, [user_id])
        allowed = bool(
            views
            and views[0].membership.status == "active"
            and request.permission in views[0].permissions
        )
        return identity_pb2.CheckPermissionResponse(allowed=allowed)

    async def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Agency:
        principal = rpc_principal()
        session = rpc_session()
        agency = await session.get(Agency, principal.tenant_id)
        if agency is None:
            raise NotFound("the agency no longer exists")
        return agency_message(agency)
