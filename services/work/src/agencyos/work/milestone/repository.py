"""SQL for milestones."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import Milestone, Task

_SORTS: dict[str, Any] = {
    "due_date": Milestone.due_date,
    "name": Milestone.name,
    "created_at": Milestone.created_at,
}


class MilestoneRepository(Repository[Milestone]):
    model = Milestone

    async def lock(
        self, session: AsyncSession, milestone_id: uuid.UUID, *, for_delete: bool = False
    ) -> Milestone | None:
        """The row locked and re-read. FOR NO KEY UPDATE serializes the milestone's writers
        while tasks can still point at it; FOR UPDATE to delete it (which then waits for a
        task insert that references it, so the check for tasks below sees that task)."""
        stmt = (
            select(Milestone)
            .where(Milestone.id == milestone_id)
            .with_for_update(key_share=not for_delete)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    def of_project(self, project_id: uuid.UUID, *, status: str | None, sort: str) -> Select[Any]:
        stmt = select(Milestone).where(Milestone.project_id == project_id)
        if status is not None:
            stmt = stmt.where(Milestone.status == status)
        column = _SORTS[sort.lstrip("-")]
        order = column.desc() if sort.startswith("-") else column.asc()
        return stmt.order_by(order.nulls_last(), Milestone.created_at, Milestone.id)

    async def of_projects(
        self, session: AsyncSession, project_ids: Sequence[uuid.UUID], *, open_only: bool = False
    ) -> dict[uuid.UUID, list[Milestone]]:
        """The projects' milestones by project, each list by due date (undated ones last),
        in one query for any number of projects."""
        found: dict[uuid.UUID, list[Milestone]] = {p: [] for p in project_ids}
        if not found:
            return found
        stmt = select(Milestone).where(Milestone.project_id.in_(list(found)))
        if open_only:
            stmt = stmt.where(Milestone.status == "open")
        stmt = stmt.order_by(
            Milestone.due_date.asc().nulls_last(), Milestone.created_at, Milestone.id
        )
        for milestone in (await session.execute(stmt)).scalars():
            found[milestone.project_id].append(milestone)
        return found

    async def has_tasks(self, session: AsyncSession, milestone_id: uuid.UUID) -> bool:
        stmt = select(exists().where(Task.milestone_id == milestone_id))
        return bool((await session.execute(stmt)).scalar())


milestone_repository = MilestoneRepository()
