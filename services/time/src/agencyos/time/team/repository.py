"""SQL for the roster (`team_members`): identity's people as time knows them, with capacity."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.time.models import TeamMember

# Client users belong to an agency but are not its team: they log no time and have no capacity.
CLIENT_ROLE = "client"
ACTIVE = "active"
# The roster's default view: everyone still in the agency.
CURRENT_STATUSES = ("active", "suspended")


class TeamMemberRepository(Repository[TeamMember]):
    model = TeamMember

    async def get(self, session: AsyncSession, user_id: uuid.UUID) -> TeamMember | None:
        stmt = select(TeamMember).where(TeamMember.user_id == user_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_ids(
        self, session: AsyncSession, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, TeamMember]:
        if not user_ids:
            return {}
        stmt = select(TeamMember).where(TeamMember.user_id.in_(list(user_ids)))
        return {m.user_id: m for m in (await session.scalars(stmt)).all()}

    def team(self, *, statuses: Sequence[str], user_id: uuid.UUID | None = None) -> Select[Any]:
        """The team (never client users) in the given statuses, by name."""
        stmt = select(TeamMember).where(
            TeamMember.role != CLIENT_ROLE, TeamMember.status.in_(list(statuses))
        )
        if user_id is not None:
            stmt = stmt.where(TeamMember.user_id == user_id)
        return stmt.order_by(TeamMember.name, TeamMember.user_id)

    async def active_team(self, session: AsyncSession) -> Sequence[TeamMember]:
        result = await session.scalars(self.team(statuses=(ACTIVE,)))
        return list(result.all())

    async def upsert(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        *,
        insert_only: bool = False,
        **fields: Any,
    ) -> None:
        """Create the person's row with `fields`, or set `fields` on the row there is (a
        capacity already set is never touched). `insert_only` leaves an existing row alone."""
        stmt = insert(TeamMember).values(tenant_id=tenant_id, user_id=user_id, **fields)
        if insert_only or not fields:
            stmt = stmt.on_conflict_do_nothing(index_elements=["tenant_id", "user_id"])
        else:
            stmt = stmt.on_conflict_do_update(
                index_elements=["tenant_id", "user_id"],
                set_={**fields, "updated_at": func.now()},
            )
        await session.execute(stmt)


team_member_repository = TeamMemberRepository()
