"""SQL for the agency row. Row-level security shows a caller only their own agency (and the
others they are a member of, which the explicit id filter keeps out)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import Agency


class SlugTaken(Exception):
    pass


class AgencyRepository:
    async def get_for_update(self, session: AsyncSession, agency_id: uuid.UUID) -> Agency | None:
        """Locked, so two concurrent updates each see the other's result, not a stale row."""
        stmt = select(Agency).where(Agency.id == agency_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def get(self, session: AsyncSession, agency_id: uuid.UUID) -> Agency | None:
        stmt = select(Agency).where(Agency.id == agency_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def update(self, session: AsyncSession, agency: Agency, changes: dict[str, Any]) -> None:
        """Apply `changes`. Slugs are unique across all agencies, which RLS hides from the
        caller, so the unique index is the check; the savepoint keeps the transaction usable."""
        try:
            async with session.begin_nested():
                for field, value in changes.items():
                    setattr(agency, field, value)
                await session.flush()
        except IntegrityError as exc:
            if "slug" in str(exc.orig):
                raise SlugTaken from exc
            raise


agency_repository = AgencyRepository()
