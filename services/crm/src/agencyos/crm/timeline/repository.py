"""SQL for client timelines."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.crm.models import Client, TimelineEntry


class TimelineRepository:
    async def add(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        client_id: uuid.UUID,
        kind: str,
        title: str,
        occurred_at: datetime,
        body: str | None = None,
        actor_id: uuid.UUID | None = None,
        data: dict[str, Any] | None = None,
        source_event_id: uuid.UUID | None = None,
    ) -> uuid.UUID | None:
        """Write an entry and move the client's `last_activity_at` forward. An entry for an
        event already recorded is skipped (None): one entry per event, however delivered."""
        entry_id = uuid.uuid4()
        stmt = (
            insert(TimelineEntry)
            .values(
                tenant_id=tenant_id,
                id=entry_id,
                client_id=client_id,
                kind=kind,
                title=title,
                body=body,
                occurred_at=occurred_at,
                actor_id=actor_id,
                data=data or {},
                source_event_id=source_event_id,
            )
            .on_conflict_do_nothing(
                index_elements=["tenant_id", "source_event_id"],
                index_where=TimelineEntry.source_event_id.is_not(None),
            )
            .returning(TimelineEntry.id)
        )
        written = (await session.execute(stmt)).scalar_one_or_none()
        if written is None:
            return None
        await session.execute(
            update(Client)
            .where(Client.tenant_id == tenant_id, Client.id == client_id)
            .values(
                last_activity_at=func.greatest(
                    func.coalesce(Client.last_activity_at, occurred_at), occurred_at
                )
            )
            .execution_options(synchronize_session=False)
        )
        return entry_id

    async def page(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        client_id: uuid.UUID,
        *,
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[TimelineEntry], int]:
        stmt = select(TimelineEntry).where(
            TimelineEntry.tenant_id == tenant_id, TimelineEntry.client_id == client_id
        )
        if kinds:
            stmt = stmt.where(TimelineEntry.kind.in_(kinds))
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = await session.execute(
            stmt.order_by(TimelineEntry.occurred_at.desc(), TimelineEntry.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return list(rows.scalars()), int(total)


timeline_repository = TimelineRepository()
