"""Access tokens (RS256 JWT, claims per ARCHITECTURE.md §4, plus `sid`) and refresh tokens
(opaque, stored hashed).

A refresh token reads `rt_<agency id hex>.<secret>`. The agency part is not secret: it lets
the refresh endpoint open its transaction under that tenant, so the token's row is found
through the ordinary tenant policy. The stored hash covers the whole string, so a token with
an altered agency part matches no row in any agency.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import TWO_FACTOR_ENROLLMENT
from agencyos.common.clientip import in_networks
from agencyos.common.errors import AddressNotAllowed, Unauthenticated
from agencyos.common.permissions import Role
from agencyos.identity.mfa.repository import two_factor_repository
from agencyos.identity.models import Agency, ApiKey, Membership, RefreshToken, User
from agencyos.identity.role.service import role_service
from agencyos.identity.session.devices import note_sign_in
from agencyos.identity.session_policy.repository import session_policy_repository
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.keys import active_key, key_sealer

_REFRESH_TOKEN = re.compile(r"^rt_([0-9a-f]{32})\.[A-Za-z0-9_-]{43}$")
_USER_AGENT_MAX = 512
ADDRESS_NOT_ALLOWED = "your address is not in this agency's IP allowlist"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: uuid.UUID


@dataclass(frozen=True)
class ClientInfo:
    """Where a session is used from, as the request says (shown to the user, never trusted)."""

    user_agent: str | None = None
    ip_address: str | None = None


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def refresh_token_tenant(token: str) -> uuid.UUID | None:
    """The agency a refresh token names, or None when it is not shaped like one of ours."""
    match = _REFRESH_TOKEN.match(token)
    return uuid.UUID(hex=match.group(1)) if match else None


async def issue_tokens(
    session: AsyncSession,
    settings: IdentitySettings,
    membership: Membership,
    *,
    family_id: uuid.UUID | None = None,
    client: ClientInfo | None = None,
    amr: Sequence[str] | None = None,
) -> TokenPair:
    """A new access token and the next refresh token of `family_id` (a new session if None).

    `client` is the request's (None: no caller, e.g. an internal use): outside the agency's
    IP allowlist it is refused; a new session from a device the user has not signed in from
    before sends them a notice (session/devices.py).

    `amr` says how the session signed in (RFC 8176; a password alone if None); its refresh
    tokens keep it. A member whose agency requires two-factor sign-in of their role and who
    has not enrolled gets a token restricted to enrolling (`restricted`), at every issue:
    a refresh after they enrolled is no longer restricted. A single sign-on session is never
    restricted: the agency's own provider decides how its people prove who they are."""
    membership = await _committed_membership(session, membership)
    methods = list(amr or ["pwd"])
    allowlist = await agency_ip_allowlist(session, membership.tenant_id)
    if client is not None:
        ensure_address_allowed(allowlist, client.ip_address)
    user = await session.get(User, membership.user_id)
    if user is None:
        raise Unauthenticated("your account no longer exists")
    if family_id is None and client is not None:
        agency = await session.get(Agency, membership.tenant_id)
        if agency is not None:
            await note_sign_in(
                session,
                user,
                agency,
                user_agent=client.user_agent and client.user_agent[:_USER_AGENT_MAX],
                ip_address=client.ip_address,
            )
    family_id = family_id or uuid.uuid4()
    claims: dict[str, object] = {
        "sub": str(membership.user_id),
        "tid": str(membership.tenant_id),
        "role": membership.role,
        # The member's permissions as the agency has them now (role as tuned, plus overrides).
        "perms": sorted(await role_service.effective_permissions(session, membership)),
        # The session (refresh-token family) this token belongs to: logout and the session
        # list need to know which one is the caller's own.
        "sid": str(family_id),
        **_user_claims(user, allowlist),
    }
    if membership.client_id is not None:
        claims["cid"] = str(membership.client_id)
    claims["amr"] = methods
    if (
        "sso" not in methods
        and await two_factor_repository.required_for(session, membership)
        and not await two_factor_repository.is_enabled(session, membership.user_id)
    ):
        claims["restricted"] = TWO_FACTOR_ENROLLMENT
    access = await _sign(session, settings, claims, settings.access_token_ttl_seconds)
    refresh = f"rt_{membership.tenant_id.hex}.{secrets.token_urlsafe(32)}"
    client = client or ClientInfo()
    session.add(
        RefreshToken(
            tenant_id=membership.tenant_id,
            user_id=membership.user_id,
            family_id=family_id,
            token_hash=hash_refresh_token(refresh),
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl_seconds),
            user_agent=(client.user_agent or None) and client.user_agent[:_USER_AGENT_MAX],
            ip_address=client.ip_address,
            amr=methods,
        )
    )
    await session.flush()
    return TokenPair(access, refresh, settings.access_token_ttl_seconds, family_id)


async def _committed_membership(session: AsyncSession, membership: Membership) -> Membership:
    """The membership re-read under a share lock. A role change, suspension or removal holds
    the row FOR UPDATE until it commits, after stamping its revocation "not before"; waiting
    for it here means no token is ever issued after that stamp from the state it replaced."""
    stmt = (
        select(Membership)
        .where(Membership.tenant_id == membership.tenant_id, Membership.id == membership.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    current = (await session.execute(stmt)).scalar_one_or_none()
    if current is None or current.status != "active":
        raise Unauthenticated("your membership in this agency is not active")
    return current


async def issue_delegated_token(
    session: AsyncSession,
    settings: IdentitySettings,
    membership: Membership,
    *,
    actor: str,
    purpose: str,
) -> tuple[str, int]:
    """A short-lived access token for `membership`'s user with exactly the claims their login
    would carry now (role, permissions, client), for `actor` (a service) acting on their
    behalf (RFC 8693 `act`) for `purpose`; and its lifetime in seconds. It belongs to no
    session: revoking the member's tokens (suspension, removal, a role change) refuses it."""
    membership = await _committed_membership(session, membership)
    claims: dict[str, object] = {
        "sub": str(membership.user_id),
        "tid": str(membership.tenant_id),
        "role": membership.role,
        "perms": sorted(await role_service.effective_permissions(session, membership)),
        "act": {"sub": actor},
        "purpose": purpose,
    }
    user = await session.get(User, membership.user_id)
    if user is None:
        raise Unauthenticated("the member's account no longer exists")
    claims.update(_user_claims(user, await agency_ip_allowlist(session, membership.tenant_id)))
    if membership.client_id is not None:
        claims["cid"] = str(membership.client_id)
    ttl = settings.delegated_token_ttl_seconds
    return await _sign(session, settings, claims, ttl), ttl


async def issue_api_key_token(
    session: AsyncSession, settings: IdentitySettings, api_key: ApiKey
) -> tuple[str, int]:
    """A short-lived access token acting as `api_key` (sub = akid = the key's id), with the
    permissions of the key's role as the agency has tuned it; and its lifetime in seconds."""
    ttl = settings.api_key_token_ttl_seconds
    role_set = await role_service.role_set(session, api_key.tenant_id, Role(api_key.role))
    claims: dict[str, object] = {
        "sub": str(api_key.id),
        "akid": str(api_key.id),
        "tid": str(api_key.tenant_id),
        "role": api_key.role,
        "perms": sorted(role_set),
    }
    allowlist = await agency_ip_allowlist(session, api_key.tenant_id)
    if allowlist:
        claims["ipal"] = allowlist
    return await _sign(session, settings, claims, ttl), ttl


async def agency_ip_allowlist(session: AsyncSession, tenant_id: uuid.UUID) -> list[str]:
    """The agency's IP allowlist (CIDR strings); empty: any address."""
    await session_policy_repository.hold_agency(session, tenant_id, exclusive=False)
    policy = await session_policy_repository.get(session, tenant_id)
    return list(policy.ip_allowlist) if policy is not None else []


def ensure_address_allowed(allowlist: list[str], ip_address: str | None) -> None:
    if allowlist and not in_networks(ip_address or "", allowlist):
        raise AddressNotAllowed(ADDRESS_NOT_ALLOWED)


def _user_claims(user: User, allowlist: list[str]) -> dict[str, object]:
    """What a person's token says about them and their agency's policy: `email_verified`
    (always, so its absence means an API key or an older token) and `ipal` when the agency
    has an allowlist."""
    claims: dict[str, object] = {"email_verified": user.email_verified_at is not None}
    if allowlist:
        claims["ipal"] = allowlist
    return claims


async def _sign(
    session: AsyncSession, settings: IdentitySettings, claims: dict[str, object], ttl: int
) -> str:
    kid, key = await active_key(
        session, settings.signing_key_bits, key_sealer(settings.key_encryption_key)
    )
    issued_ms = int(time.time() * 1000)
    now = issued_ms // 1000
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        # `iat` to the millisecond: a revocation "not before" (agencyos.common.revocation)
        # must tell a token issued just before it from one issued just after, in one second.
        "iat_ms": issued_ms,
        "exp": now + ttl,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)
