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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from joserfc import jwt
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import Membership, RefreshToken
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.keys import active_key

_REFRESH_TOKEN = re.compile(r"^rt_([0-9a-f]{32})\.[A-Za-z0-9_-]{43}$")
_USER_AGENT_MAX = 512


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
) -> TokenPair:
    """A new access token and the next refresh token of `family_id` (a new session if None)."""
    family_id = family_id or uuid.uuid4()
    kid, key = await active_key(session, settings.signing_key_bits)
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(membership.user_id),
        "tid": str(membership.tenant_id),
        "role": membership.role,
        "iat": now,
        "exp": now + settings.access_token_ttl_seconds,
        "jti": uuid.uuid4().hex,
        # The session (refresh-token family) this token belongs to: logout and the session
        # list need to know which one is the caller's own.
        "sid": str(family_id),
    }
    if membership.client_id is not None:
        claims["cid"] = str(membership.client_id)
    access = jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)
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
        )
    )
    await session.flush()
    return TokenPair(access, refresh, settings.access_token_ttl_seconds, family_id)
