"""All SQL for running timers (one per person: the table's primary key)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import Timer


class TimerRepository:
    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> Timer | None:
        stmt = select(Timer).where(Timer.user_id == user_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock(self, session: AsyncSession, user_id: uuid.UUID) -> Timer | None:
        """The person's timer with its row locked for the rest of the transaction."""
        stmt = (
            select(Timer)
            .where(Timer.user_id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def delete(self, session: AsyncSession, timer: Timer) -> None:
        await session.delete(timer)
        await session.flush()


timer_repository = TimerRepository()
