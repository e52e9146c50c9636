"""All SQL for rates."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.time.models import Rate


class RateRepository(Repository[Rate]):
    model = Rate

    async def list_rates(
        self,
        session: AsyncSession,
        *,
        kind: str | None,
        scope: str | None,
        user_id: uuid.UUID | None,
        project_id: uuid.UUID | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[Rate], int]:
        stmt = select(Rate)
        if kind is not None:
            stmt = stmt.where(Rate.kind == kind)
        if scope is not None:
            stmt = stmt.where(Rate.scope == scope)
        if user_id is not None:
            stmt = stmt.where(Rate.user_id == user_id)
        if project_id is not None:
            stmt = stmt.where(Rate.project_id == project_id)
        stmt = stmt.order_by(
            Rate.kind, Rate.scope, Rate.user_id, Rate.project_id, Rate.effective_from.desc()
        )
        return await self.paginate(session, stmt, page=page, per_page=per_page)

    async def delete(self, session: AsyncSession, rate: Rate) -> None:
        await session.delete(rate)
        await session.flush()


rate_repository = RateRepository()
