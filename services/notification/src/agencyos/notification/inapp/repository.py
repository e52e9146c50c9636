"""All SQL of in-app notifications (writing one: `insert_notification`, called by
`service.add_notification`, which also tells the recipient's feed)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository, utcnow
from agencyos.notification.models import Notification


@dataclass(frozen=True)
class Position:
    """Where a newest-first listing stands: after the notice with this time and id."""

    created_at: datetime
    id: uuid.UUID


@dataclass(frozen=True)
class NoticeFilter:
    user_id: uuid.UUID
    # True: unread only; False: read only; None: both.
    unread: bool | None = None
    kind: str | None = None


def _filtered(stmt: Any, wanted: NoticeFilter) -> Any:
    stmt = stmt.where(Notification.user_id == wanted.user_id)
    if wanted.unread is True:
        stmt = stmt.where(Notification.read_at.is_(None))
    elif wanted.unread is False:
        stmt = stmt.where(Notification.read_at.is_not(None))
    if wanted.kind is not None:
        stmt = stmt.where(Notification.kind == wanted.kind)
    return stmt


# Newest first; the id breaks ties between notices written in one transaction (one now()).
NEWEST_FIRST = (Notification.created_at.desc(), Notification.id.desc())


class NotificationRepository(Repository[Notification]):
    model = Notification

    async def page(
        self, session: AsyncSession, wanted: NoticeFilter, *, page: int, per_page: int
    ) -> tuple[Sequence[Notification], int]:
        stmt = _filtered(sa.select(Notification), wanted).order_by(*NEWEST_FIRST)
        return await self.paginate(session, stmt, page=page, per_page=per_page)

    async def after(
        self, session: AsyncSession, wanted: NoticeFilter, position: Position | None, limit: int
    ) -> Sequence[Notification]:
        """Up to `limit` notices older than `position` (the newest when None)."""
        stmt = _filtered(sa.select(Notification), wanted)
        if position is not None:
            stmt = stmt.where(
                sa.tuple_(Notification.created_at, Notification.id)
                < sa.tuple_(sa.literal(position.created_at), sa.literal(position.id))
            )
        rows = await session.execute(stmt.order_by(*NEWEST_FIRST).limit(limit))
        return rows.scalars().all()

    async def unread_count(self, session: AsyncSession, user_id: uuid.UUID) -> int:
        stmt = _filtered(sa.select(sa.func.count()), NoticeFilter(user_id, unread=True))
        return int((await session.execute(stmt.select_from(Notification))).scalar_one())

    async def of_user(
        self, session: AsyncSession, user_id: uuid.UUID, notification_id: uuid.UUID
    ) -> Notification | None:
        stmt = sa.select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def mark_read(self, session: AsyncSession, notice: Notification) -> Notification:
        """Read now, unless read already (the first time it was read stays)."""
        if notice.read_at is None:
            notice.read_at = utcnow()
            await session.flush()
        return notice

    async def mark_all_read(
        self, session: AsyncSession, user_id: uuid.UUID, kind: str | None
    ) -> int:
        stmt = _filtered(sa.update(Notification), NoticeFilter(user_id, unread=True, kind=kind))
        result = await session.execute(
            stmt.values(read_at=utcnow()).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


notification_repository = NotificationRepository()


@dataclass(frozen=True)
class Inserted:
    id: uuid.UUID
    created_at: datetime


async def insert_notification(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    title: str,
    body: str = "",
    subject: str | None = None,
    link: str | None = None,
    data: dict[str, Any] | None = None,
    source_event_id: uuid.UUID,
    actor_id: uuid.UUID | None = None,
) -> Inserted | None:
    """Write one in-app notice, once: the same event, person and kind again writes nothing
    (None). Runs in the caller's transaction (tenant set)."""
    stmt = (
        insert(Notification)
        .values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            user_id=user_id,
            kind=kind,
            title=title,
            body=body,
            subject=subject,
            link=link,
            data=data or {},
            source_event_id=source_event_id,
            actor_id=actor_id,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "source_event_id", "user_id", "kind"])
        .returning(Notification.id, Notification.created_at)
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else Inserted(row.id, row.created_at)
