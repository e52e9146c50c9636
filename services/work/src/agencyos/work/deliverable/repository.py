"""SQL for deliverables and their decision history."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import Deliverable, DeliverableDecision, Project

_SORTS: dict[str, Any] = {
    "created_at": Deliverable.created_at,
    "title": Deliverable.title,
    "submitted_at": Deliverable.submitted_at,
}


class DeliverableRepository(Repository[Deliverable]):
    model = Deliverable

    async def lock(
        self, session: AsyncSession, deliverable_id: uuid.UUID, *, for_delete: bool = False
    ) -> Deliverable | None:
        """The row locked and re-read: FOR NO KEY UPDATE serializes its transitions and edits
        (decision rows can still reference it); FOR UPDATE to delete it."""
        stmt = (
            select(Deliverable)
            .where(Deliverable.id == deliverable_id)
            .with_for_update(key_share=not for_delete)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    def of_project(
        self,
        project_id: uuid.UUID,
        *,
        statuses: Sequence[str] | None = None,
        sort: str = "created_at",
    ) -> Select[Any]:
        stmt = select(Deliverable).where(Deliverable.project_id == project_id)
        if statuses is not None:
            stmt = stmt.where(Deliverable.status.in_(list(statuses)))
        column = _SORTS[sort.lstrip("-")]
        order = column.desc() if sort.startswith("-") else column.asc()
        return stmt.order_by(order.nulls_last(), Deliverable.created_at, Deliverable.id)

    def of_client(self, client_id: uuid.UUID, *, statuses: Sequence[str]) -> Select[Any]:
        """The deliverables of every project of the client, oldest submission first."""
        return (
            select(Deliverable)
            .join(
                Project,
                (Project.tenant_id == Deliverable.tenant_id)
                & (Project.id == Deliverable.project_id),
            )
            .where(Project.client_id == client_id, Deliverable.status.in_(list(statuses)))
            .order_by(
                Deliverable.submitted_at.asc().nulls_last(),
                Deliverable.created_at,
                Deliverable.id,
            )
        )

    async def all_of(self, session: AsyncSession, stmt: Select[Any]) -> list[Deliverable]:
        return list((await session.execute(stmt)).scalars())


deliverable_repository = DeliverableRepository()


class DecisionRepository(Repository[DeliverableDecision]):
    model = DeliverableDecision

    def history(self, deliverable_id: uuid.UUID) -> Select[Any]:
        """Newest first."""
        return (
            select(DeliverableDecision)
            .where(DeliverableDecision.deliverable_id == deliverable_id)
            .order_by(DeliverableDecision.occurred_at.desc(), DeliverableDecision.id.desc())
        )


decision_repository = DecisionRepository()
