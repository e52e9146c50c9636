"""SQL for magic-link tokens. The table is global (no tenant), like `password_reset_tokens`."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import MagicLinkToken


class MagicLinkRepository:
    async def create(
        self,
        session: AsyncSession,
        *,
        user_id: uuid.UUID,
        tenant_id: uuid.UUID,
        token_hash: str,
        expires_at: datetime,
    ) -> None:
        session.add(
            MagicLinkToken(
                user_id=user_id, tenant_id=tenant_id, token_hash=token_hash, expires_at=expires_at
            )
        )
        await session.flush()

    async def live_expiry(self, session: AsyncSession, token_hash: str) -> datetime | None:
        """When the link stops working, if it works now (unused, not expired); reads only."""
        result = await session.execute(
            select(MagicLinkToken.expires_at).where(
                MagicLinkToken.token_hash == token_hash,
                MagicLinkToken.used_at.is_(None),
                MagicLinkToken.expires_at > func.now(),
            )
        )
        return result.scalar_one_or_none()

    async def spend(
        self, session: AsyncSession, token_hash: str
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """Mark the link used if it is live, in one conditional update: of two concurrent
        uses exactly one matches. Returns its (user, agency)."""
        result = await session.execute(
            update(MagicLinkToken)
            .where(
                MagicLinkToken.token_hash == token_hash,
                MagicLinkToken.used_at.is_(None),
                MagicLinkToken.expires_at > func.now(),
            )
            .values(used_at=func.now())
            .returning(MagicLinkToken.user_id, MagicLinkToken.tenant_id)
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def owner(
        self, session: AsyncSession, token_hash: str
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """The (user, agency) of a link in any state: whose log records a refused use."""
        result = await session.execute(
            select(MagicLinkToken.user_id, MagicLinkToken.tenant_id).where(
                MagicLinkToken.token_hash == token_hash
            )
        )
        row = result.first()
        return (row[0], row[1]) if row else None

    async def expire_unused(
        self, session: AsyncSession, user_id: uuid.UUID, tenant_id: uuid.UUID
    ) -> None:
        """The user's other live links to this agency stop working (a sign-in used one)."""
        await session.execute(
            update(MagicLinkToken)
            .where(
                MagicLinkToken.user_id == user_id,
                MagicLinkToken.tenant_id == tenant_id,
                MagicLinkToken.used_at.is_(None),
                MagicLinkToken.expires_at > func.now(),
            )
            .values(expires_at=func.now())
        )


magic_link_repository = MagicLinkRepository()
