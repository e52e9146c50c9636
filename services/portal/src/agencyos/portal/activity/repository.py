"""SQL for the client's recent activity and for the projects and tasks it is told about."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.portal.models import Activity, KnownProject, KnownTask

NAME_LENGTH = 200
TITLE_LENGTH = 300
COMMENT_LENGTH = 500
# The `as_of` of a project known only from an event without its state (older events): older
# than any state, so the next state told replaces it.
UNSTATED = datetime(1970, 1, 1, tzinfo=UTC)


def cut(text: str | None, length: int) -> str | None:
    """`text` cut to `length` characters (an ellipsis marks a cut)."""
    if text is None or len(text) <= length:
        return text
    return text[: length - 1].rstrip() + "…"


class ActivityRepository:
    async def add(self, session: AsyncSession, entry: Activity, *, keep: int) -> None:
        """Record `entry` (once: its id is the event's), then keep only the client's newest
        `keep` entries."""
        entry.title = cut(entry.title, TITLE_LENGTH) or ""
        entry.comment = cut(entry.comment, COMMENT_LENGTH)
        entry.project_name = cut(entry.project_name, NAME_LENGTH)
        values = {c.name: getattr(entry, c.key) for c in Activity.__table__.columns}
        await session.execute(
            insert(Activity)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["tenant_id", "id"])
        )
        await self.trim(session, entry.client_id, keep=keep)

    async def trim(self, session: AsyncSession, client_id: uuid.UUID, *, keep: int) -> None:
        older = (
            select(Activity.id)
            .where(Activity.client_id == client_id)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .offset(keep)
        )
        await session.execute(
            delete(Activity)
            .where(Activity.client_id == client_id, Activity.id.in_(older.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )

    async def recent(
        self, session: AsyncSession, client_id: uuid.UUID, *, limit: int
    ) -> list[Activity]:
        """The client's newest entries first (row-level security keeps to the agency)."""
        stmt = (
            select(Activity)
            .where(Activity.client_id == client_id)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(limit)
        )
        return list((await session.execute(stmt)).scalars())

    async def forget_task(self, session: AsyncSession, task_id: uuid.UUID) -> None:
        """The task is gone from the client's sight (made internal, or deleted): so is every
        entry about it and its comments."""
        await session.execute(
            delete(Activity)
            .where(Activity.task_id == task_id)
            .execution_options(synchronize_session=False)
        )

    async def forget_invoice(self, session: AsyncSession, invoice_id: uuid.UUID) -> None:
        await session.execute(
            delete(Activity)
            .where(Activity.invoice_id == invoice_id)
            .execution_options(synchronize_session=False)
        )

    async def forget_project_for_others(
        self, session: AsyncSession, project_id: uuid.UUID, client_id: uuid.UUID | None
    ) -> None:
        """The project is no longer (or never was) another client's: entries about it that
        any other client holds go."""
        stmt = delete(Activity).where(Activity.project_id == project_id)
        if client_id is not None:
            stmt = stmt.where(Activity.client_id != client_id)
        await session.execute(stmt.execution_options(synchronize_session=False))

    async def rename_project(self, session: AsyncSession, project_id: uuid.UUID, name: str) -> None:
        await session.execute(
            update(Activity)
            .where(Activity.project_id == project_id)
            .values(project_name=cut(name, NAME_LENGTH))
            .execution_options(synchronize_session=False)
        )


class DirectoryRepository:
    async def keep_project(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        project_id: uuid.UUID,
        *,
        client_id: uuid.UUID | None,
        name: str,
        as_of: datetime,
    ) -> bool:
        """Keep the project's client and name unless what is kept is newer; True when kept."""
        values = {"client_id": client_id, "name": cut(name, NAME_LENGTH), "as_of": as_of}
        stmt = insert(KnownProject).values(tenant_id=tenant_id, id=project_id, **values)
        kept = await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "id"],
                set_=values,
                where=KnownProject.as_of <= stmt.excluded.as_of,
            ).returning(KnownProject.id)
        )
        return kept.first() is not None

    async def project(self, session: AsyncSession, project_id: uuid.UUID) -> KnownProject | None:
        stmt = select(KnownProject).where(KnownProject.id == project_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def task(self, session: AsyncSession, task_id: uuid.UUID) -> KnownTask | None:
        stmt = select(KnownTask).where(KnownTask.id == task_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def keep_task(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        task_id: uuid.UUID,
        *,
        project_id: uuid.UUID,
        status: str,
        visible_to_client: bool,
    ) -> None:
        values = {
            "project_id": project_id,
            "status": status,
            "visible_to_client": visible_to_client,
        }
        stmt = insert(KnownTask).values(tenant_id=tenant_id, id=task_id, **values)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["tenant_id", "id"], set_=values)
        )

    async def drop_task(self, session: AsyncSession, task_id: uuid.UUID) -> None:
        await session.execute(
            delete(KnownTask)
            .where(KnownTask.id == task_id)
            .execution_options(synchronize_session=False)
        )


activity_repository = ActivityRepository()
directory_repository = DirectoryRepository()
