"""work's projects as its events tell them (`projects`): name, client, status and members,
the newest state winning (`as_of`: the state's `changed_at`), plus who created each."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import any_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import ProjectState
from agencyos.notification.models import DirectoryProject

NAME_LENGTH = 200
# The `as_of` of a project known only from an event without its state (older events): older
# than any state, so the next state told replaces it.
UNSTATED = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Project:
    id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    status: str
    member_ids: frozenset[uuid.UUID]
    created_by: uuid.UUID | None

    @classmethod
    def of(cls, row: DirectoryProject) -> Project:
        return cls(
            id=row.id,
            name=row.name,
            client_id=row.client_id,
            status=row.status,
            member_ids=frozenset(row.member_ids or ()),
            created_by=row.created_by,
        )


class ProjectRepository:
    async def apply(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        project_id: uuid.UUID,
        state: ProjectState,
    ) -> None:
        """Keep `state` unless what is kept is newer."""
        values = {
            "name": state.name[:NAME_LENGTH],
            "client_id": state.client_id,
            "status": state.status,
            "member_ids": list(state.member_ids),
            "as_of": state.changed_at,
        }
        stmt = insert(DirectoryProject).values(tenant_id=tenant_id, id=project_id, **values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "id"],
                set_=values,
                where=DirectoryProject.as_of <= stmt.excluded.as_of,
            )
        )

    async def first_seen(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        project_id: uuid.UUID,
        *,
        name: str,
        client_id: uuid.UUID | None,
        status: str,
    ) -> None:
        """A project told without its state: kept only until a state arrives."""
        await session.execute(
            insert(DirectoryProject)
            .values(
                tenant_id=tenant_id,
                id=project_id,
                name=name[:NAME_LENGTH],
                client_id=client_id,
                status=status,
                member_ids=[],
                as_of=UNSTATED,
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "id"])
        )

    async def set_creator(
        self, session: AsyncSession, project_id: uuid.UUID, created_by: uuid.UUID
    ) -> None:
        await session.execute(
            update(DirectoryProject)
            .where(DirectoryProject.id == project_id, DirectoryProject.created_by.is_(None))
            .values(created_by=created_by)
        )

    async def ids_with_member(self, session: AsyncSession, user_id: uuid.UUID) -> set[uuid.UUID]:
        """The projects `user_id` is on (the feed's and the stream's readers)."""
        rows = await session.scalars(
            select(DirectoryProject.id).where(any_(DirectoryProject.member_ids) == user_id)
        )
        return set(rows)

    async def get(self, session: AsyncSession, project_id: uuid.UUID) -> Project | None:
        return (await self.by_ids(session, [project_id])).get(project_id)

    async def by_ids(
        self, session: AsyncSession, project_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Project]:
        ids = list(set(project_ids))
        if not ids:
            return {}
        rows = await session.scalars(select(DirectoryProject).where(DirectoryProject.id.in_(ids)))
        return {row.id: Project.of(row) for row in rows}


project_repository = ProjectRepository()
