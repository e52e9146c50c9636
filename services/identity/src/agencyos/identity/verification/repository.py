"""SQL for email verification tokens. The table is global (no tenant), like `users`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import EmailVerificationToken, User


class VerificationRepository:
    async def lock_user(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        """The user, row-locked: serialises their resends and verifications."""
        stmt = select(User).where(User.id == user_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def last_sent_at(self, session: AsyncSession, user_id: uuid.UUID) -> datetime | None:
        stmt = select(func.max(EmailVerificationToken.created_at)).where(
            EmailVerificationToken.user_id == user_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def expire_unused(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """Earlier links stop working once a new one is sent."""
        await session.execute(
            update(EmailVerificationToken)
            .where(
                EmailVerificationToken.user_id == user_id,
                EmailVerificationToken.used_at.is_(None),
                EmailVerificationToken.expires_at > func.now(),
            )
            .values(expires_at=func.now())
        )

    async def create(
        self, session: AsyncSession, user_id: uuid.UUID, token_hash: str, expires_at: datetime
    ) -> None:
        session.add(
            EmailVerificationToken(user_id=user_id, token_hash=token_hash, expires_at=expires_at)
        )
        await session.flush()

    async def spend(self, session: AsyncSession, token_hash: str) -> uuid.UUID | None:
        """Mark the token used if it is live, in one conditional update; returns its user.
        Of two concurrent uses exactly one matches `used_at IS NULL`."""
        result = await session.execute(
            update(EmailVerificationToken)
            .where(
                EmailVerificationToken.token_hash == token_hash,
                EmailVerificationToken.used_at.is_(None),
                EmailVerificationToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(EmailVerificationToken.user_id)
        )
        return result.scalar_one_or_none()

    async def mark_verified(self, session: AsyncSession, user: User) -> None:
        if user.email_verified_at is None:
            user.email_verified_at = datetime.now(UTC)
            await session.flush()


verification_repository = VerificationRepository()
