"""SQL for invitations."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import Invitation

InvitationState = Literal["pending", "accepted", "revoked", "expired"]


class InvitationRepository:
    async def by_hash(self, session: AsyncSession, token_hash: str) -> Invitation | None:
        stmt = select(Invitation).where(Invitation.token_hash == token_hash)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_hash_for_update(self, session: AsyncSession, token_hash: str) -> Invitation | None:
        stmt = select(Invitation).where(Invitation.token_hash == token_hash).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def get_for_update(
        self, session: AsyncSession, tenant_id: uuid.UUID, invitation_id: uuid.UUID
    ) -> Invitation | None:
        stmt = (
            select(Invitation)
            .where(Invitation.tenant_id == tenant_id, Invitation.id == invitation_id)
            .with_for_update()
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        *,
        state: InvitationState | None,
        now: datetime,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[Invitation], int]:
        stmt = select(Invitation).where(Invitation.tenant_id == tenant_id)
        open_ = Invitation.accepted_at.is_(None) & Invitation.revoked_at.is_(None)
        if state == "pending":
            stmt = stmt.where(open_, Invitation.expires_at > now)
        elif state == "expired":
            stmt = stmt.where(open_, Invitation.expires_at <= now)
        elif state == "accepted":
            stmt = stmt.where(Invitation.accepted_at.is_not(None))
        elif state == "revoked":
            stmt = stmt.where(Invitation.revoked_at.is_not(None))
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = await session.execute(
            stmt.order_by(Invitation.created_at.desc(), Invitation.id)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list(rows.scalars()), int(total)

    async def has_open_for_email(
        self, session: AsyncSession, tenant_id: uuid.UUID, email: str
    ) -> bool:
        """Whether the address has an invitation to the agency that can still be accepted."""
        stmt = select(Invitation.id).where(
            Invitation.tenant_id == tenant_id,
            Invitation.email == email,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > func.now(),
        )
        return (await session.execute(stmt.limit(1))).first() is not None

    async def revoke_pending_for_email(
        self, session: AsyncSession, tenant_id: uuid.UUID, email: str
    ) -> None:
        """A new invitation to the same address replaces any still open one."""
        await session.execute(
            update(Invitation)
            .where(
                Invitation.tenant_id == tenant_id,
                Invitation.email == email,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )


invitation_repository = InvitationRepository()
