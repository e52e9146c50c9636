"""SQL for the digests: the agencies to look at, the claim that makes a digest go out once,
and what a weekly digest recounts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.notification.models import DigestRun, DirectoryPerson, Notification

# The transaction setting that lets the digest worker list every agency (read only, on
# `people`; see the directory migration).
DIGESTS_SETTING = "app.notification_digests"


@dataclass(frozen=True)
class RecentNotice:
    title: str
    created_at: datetime


class DigestRepository:
    async def agencies(self, session: AsyncSession) -> list[uuid.UUID]:
        """Every agency with an active member. Needs the digests flag on the transaction."""
        rows = await session.execute(
            select(DirectoryPerson.tenant_id)
            .where(DirectoryPerson.status == "active")
            .distinct()
            .order_by(DirectoryPerson.tenant_id)
        )
        return list(rows.scalars())

    async def unclaimed(
        self, session: AsyncSession, user_ids: list[uuid.UUID], kind: str, period: date
    ) -> set[uuid.UUID]:
        """Those of `user_ids` whose digest of `kind` for `period` has not been claimed."""
        if not user_ids:
            return set()
        claimed = await session.scalars(
            select(DigestRun.user_id).where(
                DigestRun.kind == kind,
                DigestRun.period == period,
                DigestRun.user_id.in_(user_ids),
            )
        )
        return set(user_ids) - set(claimed)

    async def claim(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        kind: str,
        period: date,
        *,
        at: datetime,
    ) -> bool:
        """Claim one digest; False when it was claimed before (by this worker or another:
        a concurrent claim waits for the other transaction, then finds its row)."""
        row = await session.execute(
            insert(DigestRun)
            .values(
                tenant_id=tenant_id,
                user_id=user_id,
                kind=kind,
                period=period,
                items=0,
                created_at=at,
            )
            .on_conflict_do_nothing()
            .returning(DigestRun.user_id)
        )
        return row.first() is not None

    async def record_items(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        kind: str,
        period: date,
        items: int,
    ) -> None:
        await session.execute(
            text(
                "UPDATE digest_runs SET items = :items "
                "WHERE user_id = :user AND kind = :kind AND period = :period"
            ),
            {"items": items, "user": user_id, "kind": kind, "period": period},
        )

    async def recent_notices(
        self, session: AsyncSession, user_id: uuid.UUID, since: datetime, *, limit: int
    ) -> list[RecentNotice]:
        rows = await session.execute(
            select(Notification.title, Notification.created_at)
            .where(Notification.user_id == user_id, Notification.created_at >= since)
            .order_by(Notification.created_at.desc(), Notification.id)
            .limit(limit)
        )
        return [RecentNotice(title, created_at) for title, created_at in rows]

    async def unread_count(self, session: AsyncSession, user_id: uuid.UUID) -> int:
        found = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        return int(found or 0)


digest_repository = DigestRepository()
