"""SQL for sessions: refresh-token families. Row-level security scopes every query to the
transaction's agency; the user filters here are explicit because a session is one user's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from agencyos.identity.models import RefreshToken


class SessionRepository:
    async def token_for_update(self, session: AsyncSession, token_hash: str) -> RefreshToken | None:
        """The token with this hash, row-locked: of two concurrent refreshes with one token,
        the second waits here and then sees the token used."""
        stmt = select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def users_token(
        self, session: AsyncSession, token_hash: str, user_id: uuid.UUID
    ) -> RefreshToken | None:
        stmt = select(RefreshToken).where(
            RefreshToken.token_hash == token_hash, RefreshToken.user_id == user_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def family_started_at(self, session: AsyncSession, family_id: uuid.UUID) -> datetime:
        """When the session began: its family's first token."""
        stmt = select(func.min(RefreshToken.created_at)).where(RefreshToken.family_id == family_id)
        return (await session.execute(stmt)).scalar_one()

    async def mark_used(self, session: AsyncSession, token: RefreshToken) -> None:
        await session.execute(
            update(RefreshToken).where(RefreshToken.id == token.id).values(used_at=func.now())
        )

    async def revoke_families(
        self, session: AsyncSession, family_ids: Sequence[uuid.UUID], user_id: uuid.UUID
    ) -> None:
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.family_id.in_(family_ids),
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
            )
            .values(revoked_at=func.now())
        )

    async def revoke_users_families(
        self, session: AsyncSession, user_id: uuid.UUID, *, sparing: uuid.UUID | None
    ) -> list[uuid.UUID]:
        """Revoke the user's sessions in the transaction's agency (but `sparing`); the ids of
        the sessions that were still unrevoked."""
        stmt = update(RefreshToken).where(
            RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None)
        )
        if sparing is not None:
            stmt = stmt.where(RefreshToken.family_id != sparing)
        rows = await session.execute(
            stmt.values(revoked_at=func.now()).returning(RefreshToken.family_id)
        )
        return sorted(set(rows.scalars()))

    def _live(self, user_id: uuid.UUID) -> ColumnElement[bool]:
        """The user's tokens that can still be refreshed: one per live session."""
        return and_(
            RefreshToken.user_id == user_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > func.now(),
        )

    async def is_active(
        self, session: AsyncSession, family_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        stmt = select(RefreshToken.id).where(
            RefreshToken.family_id == family_id, self._live(user_id)
        )
        return (await session.execute(stmt.limit(1))).first() is not None

    async def active_sessions(
        self, session: AsyncSession, user_id: uuid.UUID, *, page: int, per_page: int
    ) -> tuple[list[tuple[RefreshToken, datetime]], int]:
        """The user's live sessions, newest activity first: each family's live token and
        when the family began (its first token)."""
        first = aliased(RefreshToken)
        started_at = (
            select(func.min(first.created_at))
            .where(
                first.tenant_id == RefreshToken.tenant_id, first.family_id == RefreshToken.family_id
            )
            .correlate(RefreshToken)
            .scalar_subquery()
        )
        live = self._live(user_id)
        total = (
            await session.execute(select(func.count()).select_from(RefreshToken).where(live))
        ).scalar_one()
        stmt = (
            select(RefreshToken, started_at.label("started_at"))
            .where(live)
            .order_by(RefreshToken.created_at.desc(), RefreshToken.family_id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
        rows = [(token, started) for token, started in (await session.execute(stmt)).all()]
        return rows, int(total)


session_repository = SessionRepository()
