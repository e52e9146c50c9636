"""Access tokens (RS256 JWT, claims per ARCHITECTURE.md §4) and refresh tokens (opaque,
stored hashed)."""

from __future__ import annotations

import hashlib
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


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_tokens(
    session: AsyncSession,
    settings: IdentitySettings,
    membership: Membership,
    *,
    family_id: uuid.UUID | None = None,
) -> TokenPair:
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
    }
    if membership.client_id is not None:
        claims["cid"] = str(membership.client_id)
    access = jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, key)
    refresh = "rt_" + secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            tenant_id=membership.tenant_id,
            user_id=membership.user_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_refresh_token(refresh),
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_token_ttl_seconds),
        )
    )
    await session.flush()
    return TokenPair(access, refresh, settings.access_token_ttl_seconds)
