"""All SQL for board columns. Row-level security scopes every query to the agency."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import BoardColumn, Task


class ColumnRepository(Repository[BoardColumn]):
    model = BoardColumn

    async def of_project(self, session: AsyncSession, project_id: uuid.UUID) -> list[BoardColumn]:
        stmt = (
            select(BoardColumn)
            .where(BoardColumn.project_id == project_id)
            .order_by(BoardColumn.position, BoardColumn.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def lock_of_project(
        self, session: AsyncSession, project_id: uuid.UUID
    ) -> list[BoardColumn]:
        """The project's columns, locked (FOR UPDATE, in id order), fresh from the database."""
        stmt = (
            select(BoardColumn)
            .where(BoardColumn.project_id == project_id)
            .order_by(BoardColumn.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        columns = list((await session.execute(stmt)).scalars())
        return sorted(columns, key=lambda c: (c.position, c.id))

    async def lock_for_tasks(
        self, session: AsyncSession, column_id: uuid.UUID
    ) -> BoardColumn | None:
        """The column, locked against other writers of its task order (FOR NO KEY UPDATE: it
        still lets tasks reference it, and blocks a delete of the column)."""
        stmt = (
            select(BoardColumn)
            .where(BoardColumn.id == column_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def first_with_status(
        self, session: AsyncSession, project_id: uuid.UUID, status: str | None
    ) -> BoardColumn | None:
        """The leftmost column with `status` (None: the leftmost column)."""
        stmt = select(BoardColumn).where(BoardColumn.project_id == project_id)
        if status is not None:
            stmt = stmt.where(BoardColumn.status == status)
        stmt = stmt.order_by(BoardColumn.position, BoardColumn.id).limit(1)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def task_counts(
        self, session: AsyncSession, project_id: uuid.UUID
    ) -> dict[uuid.UUID, int]:
        stmt = (
            select(Task.column_id, func.count())
            .where(Task.project_id == project_id)
            .group_by(Task.column_id)
        )
        return {column_id: int(n) for column_id, n in (await session.execute(stmt)).all()}

    async def renumber(self, session: AsyncSession, columns: list[BoardColumn]) -> None:
        """Positions 0..n-1 in the given order."""
        for index, column in enumerate(columns):
            if column.position != index:
                column.position = index
        await session.flush()


column_repository = ColumnRepository()
