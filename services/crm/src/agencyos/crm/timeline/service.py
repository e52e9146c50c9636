"""A client's timeline: what people log (notes, calls, emails, meetings) and what the platform
writes from deals, projects and invoices; newest first."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound
from agencyos.crm.client.repository import client_repository
from agencyos.crm.models import TimelineEntry
from agencyos.crm.timeline.repository import timeline_repository
from agencyos.crm.timeline.schemas import TimelineEntryCreate

# Clocks differ a little; a time further ahead than this is a mistake, not skew.
_FUTURE_TOLERANCE = timedelta(minutes=5)


class TimelineService:
    async def _ensure_client(self, session: AsyncSession, client_id: uuid.UUID) -> None:
        if await client_repository.get(session, client_id) is None:
            raise NotFound("no such client")

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: uuid.UUID,
        *,
        kinds: Sequence[str] | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[TimelineEntry], int]:
        await self._ensure_client(session, client_id)
        return await timeline_repository.page(
            session, principal.tenant_id, client_id, kinds=kinds, page=page, per_page=per_page
        )

    async def log(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: uuid.UUID,
        data: TimelineEntryCreate,
    ) -> TimelineEntry:
        await self._ensure_client(session, client_id)
        now = datetime.now(UTC)
        occurred_at = data.occurred_at or now
        if occurred_at > now + _FUTURE_TOLERANCE:
            raise InvalidInput(
                "occurred_at is in the future",
                errors=[{"field": "occurred_at", "message": "in the future", "type": "future"}],
            )
        entry_id = await timeline_repository.add(
            session,
            tenant_id=principal.tenant_id,
            client_id=client_id,
            kind=data.kind,
            title=data.title,
            body=data.body,
            occurred_at=occurred_at,
            actor_id=principal.user_id,
        )
        entry = await session.get(TimelineEntry, (principal.tenant_id, entry_id))
        assert entry is not None
        return entry


timeline_service = TimelineService()
