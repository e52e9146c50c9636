"""The typed client of identity's gRPC contract (`agencyos.identity.v1.IdentityService`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import grpc

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, ServiceUnavailable, error_from_grpc
from agencyos.common.peers._base import ByIdMemo, optional_uuid
from agencyos.common.rpc import call, call_as_service, call_for_ids, channel
from agencyos.common.tracing import inject_headers
from agencyos.common.zones import zone_or_utc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


@dataclass(frozen=True)
class Member:
    """A person's membership of the caller's agency."""

    user_id: uuid.UUID
    agency_id: uuid.UUID
    email: str
    name: str
    role: str
    status: str
    client_id: uuid.UUID | None
    permissions: frozenset[str]

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def is_staff(self) -> bool:
        """An active member of the agency's own team (client users reach the agency only
        through the portal)."""
        return self.is_active and self.role != "client"

    @property
    def display_name(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class Agency:
    """The caller's agency: what invoices, time zones and defaults need."""

    id: uuid.UUID
    slug: str
    name: str
    currency: str
    timezone: ZoneInfo
    logo_url: str | None
    brand_color: str | None
    invoice_prefix: str
    default_tax_rate_bps: int


@dataclass(frozen=True)
class ResolvedApiKey:
    """What an API key stands for: an access token acting as the key, good `expires_in` s."""

    api_key_id: uuid.UUID
    agency_id: uuid.UUID
    role: str
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class DelegatedToken:
    """An access token for a member, for a service acting on their behalf (it names the
    service as actor), good `expires_in` seconds from when it was asked for."""

    access_token: str
    expires_in: int


@dataclass(frozen=True)
class ClientInvitation:
    """An invitation to the agency as a client user bound to `client_id` (its token is
    emailed by identity, never handed to the caller)."""

    id: uuid.UUID
    email: str
    role: str
    client_id: uuid.UUID
    status: str
    invited_by: uuid.UUID
    created_at: datetime
    expires_at: datetime


# Statuses meaning "identity could not answer", not "identity said no".
UNREACHABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def member_of(message: identity_pb2.Member) -> Member:
    return Member(
        user_id=uuid.UUID(message.user_id),
        agency_id=uuid.UUID(message.agency_id),
        email=message.email,
        name=message.name,
        role=message.role,
        status=message.status,
        client_id=optional_uuid(message.client_id),
        permissions=frozenset(message.permissions),
    )


def agency_of(message: identity_pb2.Agency) -> Agency:
    return Agency(
        id=uuid.UUID(message.id),
        slug=message.slug,
        name=message.name,
        currency=message.currency,
        timezone=zone_or_utc(message.timezone),
        logo_url=message.logo_url or None,
        brand_color=message.brand_color or None,
        invoice_prefix=message.invoice_prefix,
        default_tax_rate_bps=message.default_tax_rate_bps,
    )


# An agency's settings change rarely; callers on hot paths (time zones of time entries) may
# keep them this long across requests (`IdentityClient.agency(cache_seconds=...)`).
_agencies: dict[uuid.UUID, tuple[float, Agency]] = {}


class IdentityClient:
    def __init__(self, target: str, timeout: float, service_credential: str = "") -> None:
        self.target = target
        self.timeout = timeout
        # Only what a service asks on its own account (delegated tokens) sends it.
        self.service_credential = service_credential
        self._members: ByIdMemo[Member] = ByIdMemo()
        self._agency: dict[uuid.UUID, Agency] = {}

    @cached_property
    def stub(self) -> identity_pb2_grpc.IdentityServiceStub:
        # Made at the first call, on the event loop (a client may be built in a sync FastAPI
        # dependency, which runs in a worker thread), then kept for the client's lifetime.
        return identity_pb2_grpc.IdentityServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> IdentityClient:
        return cls(
            settings.identity_grpc_target,
            settings.grpc_timeout_seconds,
            getattr(settings, "service_credential", ""),
        )

    async def members(
        self, principal: Principal, user_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Member]:
        """The members of the caller's agency among `user_ids`; the others are absent."""
        return await self._members.get(principal, user_ids, lambda ids: self._fetch(principal, ids))

    async def _fetch(
        self, principal: Principal, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, Member]:
        responses = await call_for_ids(
            self.stub.GetMembers,
            user_ids,
            lambda batch: identity_pb2.GetMembersRequest(user_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        found = (member_of(m) for response in responses for m in response.members)
        return {m.user_id: m for m in found}

    async def member(self, principal: Principal, user_id: uuid.UUID) -> Member | None:
        """One member of the caller's agency, or None."""
        try:
            message = await call(
                self.stub.GetMember,
                identity_pb2.GetMemberRequest(user_id=str(user_id)),
                principal=principal,
                timeout=self.timeout,
            )
        except NotFound:
            return None
        return member_of(message)

    async def issue_delegated_token(
        self, *, tenant_id: uuid.UUID, user_id: uuid.UUID, purpose: str
    ) -> DelegatedToken:
        """A short-lived access token for `user_id` in `tenant_id`, for this service acting on
        their behalf with no person present, asked with the service credential (no caller
        token). Raises PreconditionFailed when the user is not an active member there,
        Unauthenticated when identity does not accept the credential."""
        message = await call_as_service(
            self.stub.IssueDelegatedToken,
            identity_pb2.IssueDelegatedTokenRequest(
                tenant_id=str(tenant_id), user_id=str(user_id), purpose=purpose
            ),
            credential=self.service_credential,
            timeout=self.timeout,
        )
        return DelegatedToken(access_token=message.access_token, expires_in=message.expires_in)

    async def create_client_invitation(
        self, principal: Principal, *, email: str, client_id: uuid.UUID
    ) -> ClientInvitation:
        """Invite `email` to the caller's agency as a client user of `client_id`, with the
        caller's token, through identity's invitation rules. Raises Conflict when the person
        is already a member or invited, PermissionDenied when the caller may not invite."""
        message = await call(
            self.stub.CreateClientInvitation,
            identity_pb2.CreateClientInvitationRequest(email=email, client_id=str(client_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return ClientInvitation(
            id=uuid.UUID(message.id),
            email=message.email,
            role=message.role,
            client_id=uuid.UUID(message.client_id),
            status=message.status,
            invited_by=uuid.UUID(message.invited_by),
            created_at=datetime.fromisoformat(message.created_at),
            expires_at=datetime.fromisoformat(message.expires_at),
        )

    async def resolve_api_key(self, api_key: str) -> ResolvedApiKey:
        """Trade an API key for an access token acting as it. There is no caller token (the
        key is the credential). Raises identity's refusal as its AppError (401 for an unknown,
        revoked or expired key), ServiceUnavailable when identity cannot answer."""
        try:
            message = await self.stub.ResolveApiKey(
                identity_pb2.ResolveApiKeyRequest(api_key=api_key),
                metadata=list(inject_headers().items()),
                timeout=self.timeout,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in UNREACHABLE:
                raise ServiceUnavailable(
                    "API keys cannot be checked right now; retry shortly"
                ) from exc
            raise error_from_grpc(exc.code(), exc.details()) from exc
        return ResolvedApiKey(
            api_key_id=uuid.UUID(message.api_key_id),
            agency_id=uuid.UUID(message.agency_id),
            role=message.role,
            access_token=message.access_token,
            expires_in=message.expires_in,
        )

    async def is_active_member(self, principal: Principal, user_id: uuid.UUID) -> bool:
        member = await self.member(principal, user_id)
        return member is not None and member.is_active

    async def agency(self, principal: Principal, *, cache_seconds: float = 0.0) -> Agency:
        """The caller's agency (asked once per client; with `cache_seconds`, kept that long
        for every client in this process)."""
        tenant = principal.tenant_id
        if tenant in self._agency:
            return self._agency[tenant]
        now = time.monotonic()
        cached = _agencies.get(tenant)
        if cache_seconds > 0 and cached is not None and now - cached[0] < cache_seconds:
            self._agency[tenant] = cached[1]
            return cached[1]
        message = await call(
            self.stub.GetAgency,
            identity_pb2.GetAgencyRequest(),
            principal=principal,
            timeout=self.timeout,
        )
        agency = self._agency[tenant] = agency_of(message)
        _agencies[tenant] = (now, agency)
        return agency

    async def has_permission(
        self, principal: Principal, user_id: uuid.UUID, permission: str
    ) -> bool:
        """Whether an active member of the caller's agency holds `permission` now."""
        response = await call(
            self.stub.CheckPermission,
            identity_pb2.CheckPermissionRequest(user_id=str(user_id), permission=permission),
            principal=principal,
            timeout=self.timeout,
        )
        return bool(response.allowed)
