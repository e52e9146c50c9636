"""Email verification: a single-use emailed link proves the user owns their address.

Tokens read `ev_<32 random bytes, urlsafe base64>` and are stored only as their SHA-256. Until
the address is verified, access tokens carry `email_verified: false`, and inviting people,
creating API keys and sending invoices are refused (403 `email-not-verified`). Verifying
changes the user's row; the next token (a refresh, a new sign-in) carries `true`.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import BadRequest, Conflict, PermissionDenied, TooManyRequests
from agencyos.common.events import EmailVerificationRequested
from agencyos.common.outbox import publish
from agencyos.identity.account.repository import account_repository
from agencyos.identity.models import User
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.verification.repository import verification_repository

SERVICE = "identity"
# One answer for every refused token: the caller learns nothing about why.
INVALID_TOKEN = "the email verification link is not valid; ask for a new one"


def hash_verification_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class VerificationService:
    async def send(self, session: AsyncSession, settings: IdentitySettings, user: User) -> None:
        """Email `user` a new verification link (earlier ones stop working). The event goes
        out under the transaction's tenant, which must be set (outbox rows are an agency's)."""
        await verification_repository.expire_unused(session, user.id)
        token = f"ev_{secrets.token_urlsafe(32)}"
        expires_at = datetime.now(UTC) + timedelta(seconds=settings.email_verification_ttl_seconds)
        await verification_repository.create(
            session, user.id, hash_verification_token(token), expires_at
        )
        await publish(
            session,
            EmailVerificationRequested(
                user_id=user.id,
                email=user.email,
                name=user.name,
                token=token,
                expires_at=expires_at,
            ),
            source_service=SERVICE,
            subject=f"users/{user.id}",
        )

    async def resend(
        self, session: AsyncSession, settings: IdentitySettings, principal: Principal
    ) -> None:
        """A new link for the caller, at most once per `email_verification_resend_interval_
        seconds` (429 with Retry-After before that)."""
        if principal.api_key_id is not None:
            raise PermissionDenied("an API key has no email address to verify")
        user = await verification_repository.lock_user(session, principal.user_id)
        if user is None:
            raise PermissionDenied("your account no longer exists")
        if user.email_verified_at is not None:
            raise Conflict("your email address is already verified; refresh your token")
        last = await verification_repository.last_sent_at(session, user.id)
        interval = settings.email_verification_resend_interval_seconds
        if last is not None:
            wait = (last + timedelta(seconds=interval) - datetime.now(UTC)).total_seconds()
            if wait > 0:
                raise TooManyRequests(
                    "a verification email was sent a moment ago; wait before asking again",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )
        await self.send(session, settings, user)

    async def verify(self, session: AsyncSession, *, token: str) -> User:
        """Spend `token` and mark its user's address verified; recorded in the audit log of
        each agency the user is an active member of."""
        user_id = await verification_repository.spend(session, hash_verification_token(token))
        if user_id is None:
            raise BadRequest(INVALID_TOKEN)
        user = await verification_repository.lock_user(session, user_id)
        if user is None:
            raise BadRequest(INVALID_TOKEN)
        await verification_repository.expire_unused(session, user.id)
        already = user.email_verified_at is not None
        await verification_repository.mark_verified(session, user)
        if already:
            return user
        await set_local(session, {USER_SETTING: str(user.id)})
        for membership, agency in await account_repository.memberships_of(session, user.id):
            if membership.status != "active":
                continue
            await set_local(session, {TENANT_SETTING: str(agency.id)})
            await record_audit(
                session,
                action="auth.email_verified",
                entity_type="user",
                entity_id=user.id,
                actor=AuditActor("user", str(user.id), label=user.email),
                source_service=SERVICE,
                before={"email_verified": False},
                after={"email_verified": True},
                detail={"email": user.email},
            )
        return user


verification_service = VerificationService()
