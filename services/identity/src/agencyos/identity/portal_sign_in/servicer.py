"""gRPC side of the client portal's web sign-in (mixed into IdentityServicer).

The portal's pages keep a client user's tokens server-side and ask identity, on their own
account (`@service_authenticated`), to send and spend sign-in links, refresh and end the
session, and for the agency's branding. The browser's address and user agent come with the
call as its actor context (the portal passes on the gateway's word), so sessions, the audit
log and new-device notices see the person, not the portal.

Only client users get a portal session: a staff member's link is refused before it is spent
(they sign in to the app), and a link works only under its own agency's slug.
"""

from __future__ import annotations

import grpc

from agencyos.common.actor_context import current_actor_context
from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.logs import get_logger
from agencyos.common.permissions import Role
from agencyos.common.revocation import RevocationStore
from agencyos.common.rpc import rpc_session, service_authenticated
from agencyos.identity.account.repository import account_repository
from agencyos.identity.account.service import SERVICE
from agencyos.identity.magic_link.limit import MagicLinkLimit
from agencyos.identity.magic_link.repository import magic_link_repository
from agencyos.identity.magic_link.service import (
    MagicLinkRefused,
    hash_magic_link_token,
    magic_link_service,
)
from agencyos.identity.mfa.challenges import ChallengeGrant
from agencyos.identity.revocations import Revoker
from agencyos.identity.session.repository import session_repository
from agencyos.identity.session.service import RefreshRefusal, session_service
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.repository import sso_repository
from agencyos.identity.tokens.issuer import ClientInfo, hash_refresh_token, refresh_token_tenant
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc

log = get_logger(__name__)

TOKEN_MAX = 256
STAFF_REFUSED = "this link belongs to a member of the agency's team: sign in to the app instead"


def _client_info() -> ClientInfo:
    actor = current_actor_context()
    if actor is None:
        return ClientInfo()
    return ClientInfo(user_agent=actor.user_agent, ip_address=actor.ip)


def _token(raw: str, field: str) -> str:
    value = raw.strip()
    if not value or len(value) > TOKEN_MAX or not value.isprintable():
        raise InvalidInput(f"{field} must be 1 to {TOKEN_MAX} printable characters")
    return value


def _slug(raw: str) -> str:
    slug = raw.strip().lower()
    if not slug or len(slug) > 63 or not slug.isprintable():
        raise InvalidInput("agency_slug must be 1 to 63 printable characters")
    return slug


class PortalSignInRpc(identity_pb2_grpc.IdentityServiceServicer):
    settings: IdentitySettings
    revocations: RevocationStore | None

    def _revoker(self) -> Revoker:
        if self.revocations is None:
            raise RuntimeError("identity's servicer was built without its revocation store")
        return Revoker(self.revocations, self.settings.revocation_ttl_seconds)

    @service_authenticated
    async def RequestPortalMagicLink(
        self,
        request: identity_pb2.RequestPortalMagicLinkRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.RequestPortalMagicLinkResponse:
        email = request.email.strip()
        if not email or len(email) > 320 or "@" not in email:
            raise InvalidInput("email must be an email address")
        if self.revocations is None:
            raise RuntimeError("identity's servicer was built without its revocation store")
        await magic_link_service.request(
            rpc_session(),
            self.settings,
            email=email,
            agency_slug=_slug(request.agency_slug),
            limit=MagicLinkLimit(self.revocations.client, self.settings),
        )
        return identity_pb2.RequestPortalMagicLinkResponse()

    @service_authenticated
    async def RedeemPortalMagicLink(
        self,
        request: identity_pb2.RedeemPortalMagicLinkRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.PortalSession:
        token = _token(request.token, "token")
        slug = _slug(request.agency_slug)
        session = rpc_session()
        owner = await magic_link_repository.owner(session, hash_magic_link_token(token))
        if owner is not None:
            # Whose link it is decides before anything is spent: a staff member's link, or
            # one of another agency than the page's, stays as it was.
            user_id, tenant_id = owner
            await set_local(session, {USER_SETTING: str(user_id), TENANT_SETTING: str(tenant_id)})
            agency = await account_repository.agency(session, tenant_id)
            found = await account_repository.membership(session, tenant_id, user_id)
            if agency is None or agency.slug != slug:
                raise PermissionDenied("this sign-in link is not for this agency's portal")
            if found is not None and found[0].role != Role.CLIENT.value:
                raise PermissionDenied(STAFF_REFUSED)
        try:
            grant = await magic_link_service.verify(
                session, self.settings, token=token, client=_client_info()
            )
        except MagicLinkRefused as exc:
            if exc.owner is not None:
                await magic_link_service.record_refusal(session, owner=exc.owner, reason=exc.reason)
            return identity_pb2.PortalSession(refused="invalid_link")
        if isinstance(grant, ChallengeGrant):
            # The link is spent; the second step is the app's (the portal has no 2FA page).
            return identity_pb2.PortalSession(refused="two_factor")
        return identity_pb2.PortalSession(
            access_token=grant.tokens.access_token,
            refresh_token=grant.tokens.refresh_token,
            expires_in=grant.tokens.expires_in,
            user_id=str(grant.user.id),
            agency_id=str(grant.agency.id),
            client_id=str(grant.membership.client_id or ""),
        )

    @service_authenticated
    async def RefreshPortalSession(
        self,
        request: identity_pb2.RefreshPortalSessionRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.PortalSession:
        refresh_token = _token(request.refresh_token, "refresh_token")
        tenant_id = refresh_token_tenant(refresh_token)
        if tenant_id is None:
            return identity_pb2.PortalSession(refused="invalid_refresh_token")
        session = rpc_session()
        # The token names its agency; the ordinary tenant policy finds its row. A refusal is
        # answered rather than raised, so a reuse's revocation commits.
        await set_local(session, {TENANT_SETTING: str(tenant_id)})
        outcome = await session_service.refresh(
            session,
            self.settings,
            refresh_token=refresh_token,
            client=_client_info(),
            revoker=self._revoker(),
        )
        if isinstance(outcome, RefreshRefusal):
            log.info("portal refresh refused", reason=outcome.value, tenant_id=str(tenant_id))
            return identity_pb2.PortalSession(refused="invalid_refresh_token")
        return identity_pb2.PortalSession(
            access_token=outcome.access_token,
            refresh_token=outcome.refresh_token,
            expires_in=outcome.expires_in,
            agency_id=str(tenant_id),
        )

    @service_authenticated
    async def EndPortalSession(
        self,
        request: identity_pb2.EndPortalSessionRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.EndPortalSessionResponse:
        refresh_token = _token(request.refresh_token, "refresh_token")
        tenant_id = refresh_token_tenant(refresh_token)
        if tenant_id is None:
            return identity_pb2.EndPortalSessionResponse()
        session = rpc_session()
        await set_local(session, {TENANT_SETTING: str(tenant_id)})
        token = await session_repository.token_for_update(
            session, hash_refresh_token(refresh_token)
        )
        if token is None:
            return identity_pb2.EndPortalSessionResponse()
        await set_local(session, {USER_SETTING: str(token.user_id)})
        await session_repository.revoke_families(session, [token.family_id], token.user_id)
        await self._revoker().sessions([token.family_id])
        user = await account_repository.user_by_id(session, token.user_id)
        await record_audit(
            session,
            action="auth.logged_out",
            entity_type="session",
            entity_id=token.family_id,
            actor=AuditActor("user", str(token.user_id), label=user.email if user else None),
            source_service=SERVICE,
            detail={"sessions_ended": [str(token.family_id)], "method": "portal"},
        )
        return identity_pb2.EndPortalSessionResponse()

    @service_authenticated
    async def GetAgencyBranding(
        self, request: identity_pb2.GetAgencyBrandingRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.AgencyBranding:
        agency = await sso_repository.agency_by_slug(rpc_session(), _slug(request.slug))
        if agency is None:
            raise NotFound("no such agency")
        return identity_pb2.AgencyBranding(
            id=str(agency.id),
            slug=agency.slug,
            name=agency.name,
            logo_url=agency.logo_url or "",
            brand_color=agency.brand_color or "",
        )
