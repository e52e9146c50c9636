"""Password reset: an emailed single-use token, then a new password that ends every session.

Tokens read `pr_<32 random bytes, urlsafe base64>` and are stored only as their SHA-256.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import BadRequest
from agencyos.common.events import PasswordResetRequested
from agencyos.common.outbox import publish
from agencyos.identity.account.repository import account_repository
from agencyos.identity.password_reset.repository import password_reset_repository
from agencyos.identity.passwords import hash_password
from agencyos.identity.revocations import Revoker
from agencyos.identity.session.repository import session_repository
from agencyos.identity.settings import IdentitySettings

SERVICE = "identity"
# One answer for every refused token: the caller learns nothing about why.
INVALID_TOKEN = "the password reset token is not valid; request a new one"


def new_reset_token() -> tuple[str, str]:
    """A fresh token and the hash that is stored."""
    token = f"pr_{secrets.token_urlsafe(32)}"
    return token, hash_reset_token(token)


def hash_reset_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PasswordResetService:
    async def request(
        self, session: AsyncSession, settings: IdentitySettings, *, email: str
    ) -> None:
        """Issue a token for `email`'s user and publish it for the notification service.

        Tells the caller nothing: an unknown email returns the same way, after making a
        token too. The event is written under the user's first active agency (outbox rows
        are tenant-scoped); a user with none gets no event.
        """
        token, token_hash = new_reset_token()
        user = await account_repository.user_by_email(session, email)
        if user is None:
            return
        await password_reset_repository.lock_user(session, user.id)
        await password_reset_repository.expire_unused(session, user.id)
        expires_at = datetime.now(UTC) + timedelta(seconds=settings.password_reset_ttl_seconds)
        await password_reset_repository.create(session, user.id, token_hash, expires_at)
        await set_local(session, {USER_SETTING: str(user.id)})
        active = [
            agency
            for membership, agency in await account_repository.memberships_of(session, user.id)
            if membership.status == "active"
        ]
        if not active:
            return
        await set_local(session, {TENANT_SETTING: str(active[0].id)})
        await publish(
            session,
            PasswordResetRequested(
                user_id=user.id,
                email=user.email,
                name=user.name,
                token=token,
                expires_at=expires_at,
            ),
            source_service=SERVICE,
            subject=f"users/{user.id}",
        )

    async def check(self, session: AsyncSession, *, token: str) -> datetime:
        """When `token` stops working, if it would be accepted now; spends nothing (the
        emailed link is followed with a GET). A refused token gets the confirm's error."""
        expires_at = await password_reset_repository.live_expiry(session, hash_reset_token(token))
        if expires_at is None:
            raise BadRequest(INVALID_TOKEN)
        return expires_at

    async def confirm(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        token: str,
        new_password: str,
        revoker: Revoker,
    ) -> None:
        """Spend the token, set the password and revoke the user's refresh tokens in every
        agency they belong to (each under that agency's tenant, as RLS requires)."""
        # Hashed first, so a refused token costs the same as an accepted one.
        password_hash = await hash_password(settings, new_password)
        user_id = await password_reset_repository.spend(session, hash_reset_token(token))
        if user_id is None:
            raise BadRequest(INVALID_TOKEN)
        await password_reset_repository.lock_user(session, user_id)
        await password_reset_repository.expire_unused(session, user_id)
        await password_reset_repository.set_password(session, user_id, password_hash)
        await set_local(session, {USER_SETTING: str(user_id)})
        for membership, _ in await account_repository.memberships_of(session, user_id):
            await set_local(session, {TENANT_SETTING: str(membership.tenant_id)})
            ended = await session_repository.revoke_users_families(session, user_id, sparing=None)
            await revoker.member(membership.tenant_id, user_id)
            # In every agency the user belongs to: each one's sessions of theirs ended.
            await record_audit(
                session,
                action="auth.password_reset_completed",
                entity_type="user",
                entity_id=user_id,
                actor=AuditActor("user", str(user_id)),
                source_service=SERVICE,
                detail={"password_changed": True, "sessions_ended": len(ended)},
            )


password_reset_service = PasswordResetService()
