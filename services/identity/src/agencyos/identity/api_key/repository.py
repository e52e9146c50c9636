"""SQL for API keys. Row-level security scopes every query to the transaction's agency."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.identity.models import ApiKey


class ApiKeyRepository(Repository[ApiKey]):
    model = ApiKey

    async def create(self, session: AsyncSession, entity: ApiKey) -> ApiKey:
        await super().create(session, entity)
        # created_at is the database's clock; read it back for the response.
        await session.refresh(entity, ["created_at"])
        return entity

    def list_query(self, *, include_revoked: bool) -> Select[ApiKey]:
        stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)
        if not include_revoked:
            stmt = stmt.where(ApiKey.revoked_at.is_(None))
        return stmt

    async def page(
        self, session: AsyncSession, *, include_revoked: bool, page: int, per_page: int
    ) -> tuple[Sequence[ApiKey], int]:
        return await self.paginate(
            session, self.list_query(include_revoked=include_revoked), page=page, per_page=per_page
        )

    async def by_hash(self, session: AsyncSession, key_hash: str) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.key_hash == key_hash)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def unrevoked(self, session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
        stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        return (await session.execute(stmt.with_for_update())).scalar_one_or_none()

    async def revoke(self, session: AsyncSession, key: ApiKey) -> None:
        await session.execute(
            update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=func.now())
        )

    async def touch(self, session: AsyncSession, key_id: uuid.UUID, every: timedelta) -> None:
        """Record a use, unless one was recorded less than `every` ago (spares a write per
        request; a busy key would otherwise update its row on every call)."""
        await session.execute(
            update(ApiKey)
            .where(
                ApiKey.id == key_id,
                or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < func.now() - every),
            )
            .values(last_used_at=func.now())
        )


api_key_repository = ApiKeyRepository()
