"""time's copy of work's projects (`work_projects`), written from work's events."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import ProjectState
from agencyos.time.models import WorkProject

# The `as_of` of a project asked of work rather than told by an event: older than any event,
# so the next event about it always replaces what was asked.
ASKED = datetime(1970, 1, 1, tzinfo=UTC)


class WorkProjectRepository:
    async def apply(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        project_id: uuid.UUID,
        state: ProjectState,
        *,
        as_of: datetime | None = None,
        insert_only: bool = False,
    ) -> None:
        """Keep `state` as the project's, unless what is kept is newer (`as_of`, default the
        state's `changed_at`); `insert_only` keeps whatever is there."""
        values = {
            "name": state.name[:200],
            "client_id": state.client_id,
            "status": state.status,
            "billing_type": state.billing_type,
            "hourly_rate_cents": state.hourly_rate_cents,
            "currency": state.currency,
            "member_ids": list(state.member_ids),
            "as_of": as_of or state.changed_at,
        }
        stmt = insert(WorkProject).values(tenant_id=tenant_id, id=project_id, **values)
        if insert_only:
            stmt = stmt.on_conflict_do_nothing(index_elements=["tenant_id", "id"])
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant_id", "id"],
                set_=values,
                where=WorkProject.as_of <= stmt.excluded.as_of,
            )
        await session.execute(stmt)

    async def by_ids(
        self, session: AsyncSession, project_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, WorkProject]:
        if not project_ids:
            return {}
        stmt = select(WorkProject).where(WorkProject.id.in_(list(project_ids)))
        return {p.id: p for p in (await session.execute(stmt)).scalars()}


work_project_repository = WorkProjectRepository()
