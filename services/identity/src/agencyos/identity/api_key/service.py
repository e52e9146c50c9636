"""API keys: an agency's credentials for machines, each with a role, an optional expiry and a
last-used time. The key is shown once and stored as a SHA-256.

A key reads `ak_<secret>.<agency id hex>`. The agency part is not secret: it lets the
resolver open its transaction under that tenant, so the key's row is found through the
ordinary tenant policy. The stored hash covers the whole string, so a key with an altered
agency part matches no row in any agency. The gateway trades a key for a short-lived access
token (`resolve`), so services only ever see ordinary tokens.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, PermissionDenied
from agencyos.identity.api_key.repository import api_key_repository
from agencyos.identity.api_key.schemas import ApiKeyCreate
from agencyos.identity.models import ApiKey
from agencyos.identity.revocations import Revoker
from agencyos.identity.role.service import ensure_may_assign, with_current_role
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import issue_api_key_token

_API_KEY = re.compile(r"^ak_[A-Za-z0-9_-]{43}\.([0-9a-f]{32})$")
# `ak_` and the first 8 characters of the secret: enough to tell keys apart, useless to guess.
PREFIX_LENGTH = 11
SERVICE = "identity"
# last_used_at is written at most this often per key.
TOUCH_EVERY = timedelta(seconds=60)


def new_api_key(tenant_id: uuid.UUID) -> str:
    return f"ak_{secrets.token_urlsafe(32)}.{tenant_id.hex}"


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_tenant(key: str) -> uuid.UUID | None:
    """The agency a key names, or None when it is not shaped like one of ours."""
    match = _API_KEY.match(key)
    return uuid.UUID(hex=match.group(1)) if match else None


class ApiKeyRefusal(enum.Enum):
    """Why a key was refused. Logged, never told to the caller (one generic refusal)."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class ResolvedKey:
    api_key: ApiKey
    access_token: str
    expires_in: int


class ApiKeyService:
    async def create(
        self, session: AsyncSession, principal: Principal, create: ApiKeyCreate
    ) -> tuple[ApiKey, str]:
        """A new key and the key itself (which is not stored and cannot be shown again)."""
        if principal.api_key_id is not None:
            # Otherwise a leaked key could mint fresh keys that outlive its revocation.
            raise PermissionDenied("an API key cannot create API keys; sign in as a person")
        principal.require_verified_email("create API keys")
        principal = await with_current_role(session, principal, "api_keys.write")
        ensure_may_assign(principal, create.role)
        key = new_api_key(principal.tenant_id)
        expires_at = (
            datetime.now(UTC) + timedelta(days=create.expires_in_days)
            if create.expires_in_days is not None
            else None
        )
        api_key = await api_key_repository.create(
            session,
            ApiKey(
                tenant_id=principal.tenant_id,
                id=uuid.uuid4(),
                name=create.name,
                role=create.role,
                prefix=key[:PREFIX_LENGTH],
                key_hash=hash_api_key(key),
                created_by=principal.user_id,
                expires_at=expires_at,
            ),
        )
        # The key's name, role and expiry; never the key (nor its hash).
        await record_audit(
            session,
            action="api_key.created",
            entity_type="api_key",
            entity_id=api_key.id,
            actor=principal,
            source_service=SERVICE,
            after={
                "name": api_key.name,
                "role": api_key.role,
                "prefix": api_key.prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
        return api_key, key

    async def list_keys(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        include_revoked: bool,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[ApiKey], int]:
        return await api_key_repository.page(
            session, include_revoked=include_revoked, page=page, per_page=per_page
        )

    async def revoke(
        self, session: AsyncSession, principal: Principal, key_id: uuid.UUID, *, revoker: Revoker
    ) -> None:
        """Revoke a live key. Unknown, another agency's and already revoked keys are all 404.
        Revoking needs the same rank as creating: a key of a role the caller may not give
        is not theirs to take away either."""
        api_key = await api_key_repository.unrevoked(session, key_id)
        if api_key is None:
            raise NotFound("no such API key")
        principal = await with_current_role(session, principal, "api_keys.write")
        ensure_may_assign(principal, api_key.role)
        await api_key_repository.revoke(session, api_key)
        # The tokens the gateway minted for the key (and caches) stop too.
        await revoker.api_key(api_key.id)
        await record_audit(
            session,
            action="api_key.revoked",
            entity_type="api_key",
            entity_id=api_key.id,
            actor=principal,
            source_service=SERVICE,
            detail={"name": api_key.name, "role": api_key.role, "prefix": api_key.prefix},
        )

    async def resolve(
        self, session: AsyncSession, settings: IdentitySettings, key: str
    ) -> ResolvedKey | ApiKeyRefusal:
        """Trade a key for a short-lived access token acting as it, and record the use.
        The session must be under the key's agency (`api_key_tenant`)."""
        api_key = await api_key_repository.by_hash(session, hash_api_key(key))
        if api_key is None:
            return ApiKeyRefusal.UNKNOWN
        if api_key.revoked_at is not None:
            return ApiKeyRefusal.REVOKED
        if api_key.expires_at is not None and api_key.expires_at <= datetime.now(UTC):
            return ApiKeyRefusal.EXPIRED
        await api_key_repository.touch(session, api_key.id, TOUCH_EVERY)
        access_token, ttl = await issue_api_key_token(session, settings, api_key)
        return ResolvedKey(api_key, access_token, ttl)


api_key_service = ApiKeyService()
