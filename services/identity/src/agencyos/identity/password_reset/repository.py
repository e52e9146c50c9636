"""SQL for password reset tokens. The table is global (no tenant), like `users`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import PasswordResetToken, User


class PasswordResetRepository:
    async def lock_user(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Serialises a user's reset requests and confirms, so at most one token is live."""
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())

    async def expire_unused(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Earlier tokens stop working; `used_at` stays for tokens that really were used."""
        await session.execute(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.user_id == user_id,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > func.now(),
            )
            .values(expires_at=func.now())
        )

    async def create(
        self, session: AsyncSession, user_id: uuid.UUID, token_hash: str, expires_at: datetime
    ) -> None:
        session.add(
            PasswordResetToken(user_id=user_id, token_hash=token_hash, expires_at=expires_at)
        )
        await session.flush()

    async def live_expiry(self, session: AsyncSession, token_hash: str) -> datetime | None:
        """When the token stops working, if it works now (unused, not expired); reads only."""
        result = await session.execute(
            select(PasswordResetToken.expires_at).where(
                PasswordResetToken.token_hash == token_hash,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > func.now(),
            )
        )
        return result.scalar_one_or_none()

    async def spend(self, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
        """Mark the token used if it is live, in one conditional update; returns its user.

        Of two concurrent confirms the second waits on the row and, once the first commits,
        no longer matches `used_at IS NULL`: exactly one succeeds."""
        result = await session.execute(
            update(PasswordResetToken)
            .where(
                PasswordResetToken.token_hash == token_hash,
                PasswordResetToken.used_at.is_(None),
                PasswordResetToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(PasswordResetToken.user_id)
        )
        return result.scalar_one_or_none()

    async def set_password(self, session: AsyncSession, user_id: uuid.UUID, pw_hash: str) -> None:
        await session.execute(update(User).where(User.id == user_id).values(password_hash=pw_hash))


password_reset_repository = PasswordResetRepository()
