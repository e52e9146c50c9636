"""SQL for files."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import Deliverable, File, Task

UPLOADED = "uploaded"
PENDING = "pending"
# The deliverable statuses a client sees (never drafts): the deliverable service's rule.
CLIENT_DELIVERABLE_STATUSES = ("submitted", "approved", "changes_requested")


def client_visible() -> ColumnElement[bool]:
    """An uploaded file its project's client sees: shared with it, uploaded by its users,
    attached to a task visible to it, or to a deliverable submitted to it."""
    return and_(
        File.status == UPLOADED,
        or_(
            File.shared_with_client.is_(True),
            File.uploaded_by_client.is_(True),
            File.task_id.in_(select(Task.id).where(Task.visible_to_client.is_(True))),
            File.deliverable_id.in_(
                select(Deliverable.id).where(Deliverable.status.in_(CLIENT_DELIVERABLE_STATUSES))
            ),
        ),
    )


class FileRepository(Repository[File]):
    model = File

    async def lock(self, session: AsyncSession, file_id: uuid.UUID) -> File | None:
        stmt = (
            select(File)
            .where(File.id == file_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    def of_project(
        self,
        project_id: uuid.UUID,
        *,
        task_id: uuid.UUID | None = None,
        deliverable_id: uuid.UUID | None = None,
    ) -> Select[Any]:
        """A project's uploaded files (of one task or deliverable when named), newest first."""
        stmt = select(File).where(File.project_id == project_id, File.status == UPLOADED)
        if task_id is not None:
            stmt = stmt.where(File.task_id == task_id)
        if deliverable_id is not None:
            stmt = stmt.where(File.deliverable_id == deliverable_id)
        return stmt.order_by(File.created_at.desc(), File.id)

    async def client_files(self, session: AsyncSession, project_id: uuid.UUID) -> list[File]:
        stmt = (
            select(File)
            .where(File.project_id == project_id, client_visible())
            .order_by(File.created_at.desc(), File.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def is_client_visible(self, session: AsyncSession, file_id: uuid.UUID) -> bool:
        stmt = select(File.id).where(File.id == file_id, client_visible())
        return (await session.execute(stmt)).first() is not None

    async def own_unattached(
        self,
        session: AsyncSession,
        project_id: uuid.UUID,
        user_id: uuid.UUID,
        file_ids: Sequence[uuid.UUID],
    ) -> list[File]:
        """The caller's own uploaded files among `file_ids` in the project, attached to
        nothing yet (locked: each is attached once)."""
        stmt = (
            select(File)
            .where(
                File.id.in_(list(file_ids)),
                File.project_id == project_id,
                File.uploaded_by == user_id,
                File.status == UPLOADED,
                File.task_id.is_(None),
                File.deliverable_id.is_(None),
            )
            .with_for_update()
        )
        return list((await session.execute(stmt)).scalars())


file_repository = FileRepository()
