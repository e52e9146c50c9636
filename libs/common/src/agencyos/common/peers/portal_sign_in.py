"""The typed client of identity's portal sign-in methods (the client portal's web pages):
asked on the portal's own account with the service credential; the browser's address and user
agent travel as the call's actor context."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from agencyos.common.peers._base import optional_uuid
from agencyos.common.rpc import call_as_service, channel
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


@dataclass(frozen=True)
class PortalTokens:
    """A client user's tokens, kept server-side by the portal's session."""

    access_token: str
    refresh_token: str
    expires_in: int
    user_id: uuid.UUID | None
    agency_id: uuid.UUID | None
    client_id: uuid.UUID | None


@dataclass(frozen=True)
class Refused:
    """Identity said no: "invalid_link", "two_factor" or "invalid_refresh_token"."""

    reason: str


@dataclass(frozen=True)
class AgencyBranding:
    id: uuid.UUID
    slug: str
    name: str
    logo_url: str | None
    brand_color: str | None


def _tokens(message: identity_pb2.PortalSession) -> PortalTokens | Refused:
    if message.refused:
        return Refused(message.refused)
    return PortalTokens(
        access_token=message.access_token,
        refresh_token=message.refresh_token,
        expires_in=message.expires_in,
        user_id=optional_uuid(message.user_id),
        agency_id=optional_uuid(message.agency_id),
        client_id=optional_uuid(message.client_id),
    )


class PortalSignInClient:
    def __init__(self, target: str, timeout: float, service_credential: str) -> None:
        self.target = target
        self.timeout = timeout
        self.service_credential = service_credential

    @cached_property
    def stub(self) -> identity_pb2_grpc.IdentityServiceStub:
        # Made at the first call, on the event loop.
        return identity_pb2_grpc.IdentityServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> PortalSignInClient:
        return cls(
            settings.identity_grpc_target,
            settings.grpc_timeout_seconds,
            settings.service_credential,
        )

    async def _call(self, method: Any, request: Any) -> Any:
        return await call_as_service(
            method, request, credential=self.service_credential, timeout=self.timeout
        )

    async def request_magic_link(self, *, email: str, agency_slug: str) -> None:
        """Ask identity to email a sign-in link (the same answer whoever asks)."""
        await self._call(
            self.stub.RequestPortalMagicLink,
            identity_pb2.RequestPortalMagicLinkRequest(email=email, agency_slug=agency_slug),
        )

    async def redeem_magic_link(self, *, token: str, agency_slug: str) -> PortalTokens | Refused:
        """Spend a link for a client user's tokens. Raises PermissionDenied for a staff
        member's link or another agency's (nothing spent)."""
        message = await self._call(
            self.stub.RedeemPortalMagicLink,
            identity_pb2.RedeemPortalMagicLinkRequest(token=token, agency_slug=agency_slug),
        )
        return _tokens(message)

    async def refresh(self, refresh_token: str) -> PortalTokens | Refused:
        message = await self._call(
            self.stub.RefreshPortalSession,
            identity_pb2.RefreshPortalSessionRequest(refresh_token=refresh_token),
        )
        return _tokens(message)

    async def end_session(self, refresh_token: str) -> None:
        await self._call(
            self.stub.EndPortalSession,
            identity_pb2.EndPortalSessionRequest(refresh_token=refresh_token),
        )

    async def branding(self, slug: str) -> AgencyBranding:
        """Raises NotFound for no such agency."""
        message = await self._call(
            self.stub.GetAgencyBranding, identity_pb2.GetAgencyBrandingRequest(slug=slug)
        )
        return AgencyBranding(
            id=uuid.UUID(message.id),
            slug=message.slug,
            name=message.name,
            logo_url=message.logo_url or None,
            brand_color=message.brand_color or None,
        )
