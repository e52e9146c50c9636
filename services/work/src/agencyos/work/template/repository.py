"""All SQL for project templates."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import ProjectTemplate
from agencyos.work.project.repository import like_pattern

_SORTS: dict[str, Any] = {
    "name": func.lower(ProjectTemplate.name),
    "created_at": ProjectTemplate.created_at,
}


class TemplateRepository(Repository[ProjectTemplate]):
    model = ProjectTemplate

    def filtered_query(self, *, q: str | None = None, sort: str = "name") -> Select[Any]:
        stmt = select(ProjectTemplate)
        if q:
            stmt = stmt.where(ProjectTemplate.name.ilike(like_pattern(q), escape="\\"))
        descending = sort.startswith("-")
        column = _SORTS[sort.lstrip("-")]
        order = column.desc() if descending else column.asc()
        tie = ProjectTemplate.id.desc() if descending else ProjectTemplate.id.asc()
        return stmt.order_by(order, tie)

    async def get_for_update(
        self, session: AsyncSession, template_id: uuid.UUID
    ) -> ProjectTemplate | None:
        stmt = select(ProjectTemplate).where(ProjectTemplate.id == template_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def default(self, session: AsyncSession) -> ProjectTemplate | None:
        stmt = select(ProjectTemplate).where(ProjectTemplate.is_default)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock_default(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Serialise changes of the agency's default template (a transaction-scoped advisory
        lock), so two requests making different templates the default both succeed, the later
        winning, instead of one hitting the unique index. Take it before locking any template
        row: a row lock held while waiting here could deadlock with the holder."""
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"work.default_template:{tenant_id}"},
        )

    async def clear_default(self, session: AsyncSession) -> None:
        """Unmark the agency's default template (call with `lock_default` held)."""
        await session.execute(
            update(ProjectTemplate)
            .where(ProjectTemplate.is_default)
            .values(is_default=False)
            .execution_options(synchronize_session="fetch")
        )

    async def delete(self, session: AsyncSession, template: ProjectTemplate) -> None:
        await session.execute(delete(ProjectTemplate).where(ProjectTemplate.id == template.id))
        await session.flush()


template_repository = TemplateRepository()
