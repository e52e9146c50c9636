"""The rules of a person's in-app notifications: only their own, newest first, paged by page
number or by cursor. Writing one, or reading some, tells the person's feed and open streams
(`notification.notice.created`, `notification.unread_count.changed`, through the outbox in the
same transaction)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, field_error
from agencyos.common.events import NoticeCreated, UnreadCountChanged
from agencyos.common.outbox import publish
from agencyos.notification.inapp.cursor import InvalidCursor, decode_cursor, encode_cursor
from agencyos.notification.inapp.repository import (
    NoticeFilter,
    Position,
    insert_notification,
    notification_repository,
)
from agencyos.notification.kinds import KINDS
from agencyos.notification.models import Notification


@dataclass(frozen=True)
class Listing:
    items: Sequence[Notification]
    next_cursor: str | None
    total: int | None = None


def checked_kind(kind: str | None) -> str | None:
    if kind is not None and kind not in KINDS:
        raise field_error("kind", f"no notification kind {kind!r}")
    return kind


def _position(notice: Notification) -> Position:
    return Position(notice.created_at, notice.id)


class NotificationService:
    def wanted(
        self, principal: Principal, *, unread: bool | None, kind: str | None
    ) -> NoticeFilter:
        return NoticeFilter(principal.user_id, unread=unread, kind=checked_kind(kind))

    async def by_page(
        self,
        session: AsyncSession,
        wanted: NoticeFilter,
        *,
        key: str,
        page: int,
        per_page: int,
    ) -> Listing:
        items, total = await notification_repository.page(
            session, wanted, page=page, per_page=per_page
        )
        more = page * per_page < total
        cursor = encode_cursor(key, wanted, _position(items[-1])) if items and more else None
        return Listing(items, cursor, total)

    async def by_cursor(
        self,
        session: AsyncSession,
        wanted: NoticeFilter,
        *,
        key: str,
        cursor: str | None,
        limit: int,
    ) -> Listing:
        try:
            position = decode_cursor(key, wanted, cursor) if cursor else None
        except InvalidCursor as exc:
            raise field_error("cursor", str(exc)) from exc
        # One more than asked tells whether another page follows, without counting.
        found = await notification_repository.after(session, wanted, position, limit + 1)
        items, more = found[:limit], len(found) > limit
        next_cursor = encode_cursor(key, wanted, _position(items[-1])) if more else None
        return Listing(items, next_cursor)

    async def unread_count(self, session: AsyncSession, principal: Principal) -> int:
        return await notification_repository.unread_count(session, principal.user_id)

    async def mark_read(
        self, session: AsyncSession, principal: Principal, notification_id: uuid.UUID
    ) -> Notification:
        notice = await notification_repository.of_user(session, principal.user_id, notification_id)
        if notice is None:
            raise NotFound("no such notification")
        was_unread = notice.read_at is None
        notice = await notification_repository.mark_read(session, notice)
        if was_unread:
            await _unread_count_changed(session, principal.user_id)
        return notice

    async def mark_all_read(
        self, session: AsyncSession, principal: Principal, kind: str | None
    ) -> int:
        marked = await notification_repository.mark_all_read(
            session, principal.user_id, checked_kind(kind)
        )
        if marked:
            await _unread_count_changed(session, principal.user_id)
        return marked


notification_service = NotificationService()


async def _unread_count_changed(session: AsyncSession, user_id: uuid.UUID) -> None:
    count = await notification_repository.unread_count(session, user_id)
    await publish(
        session,
        UnreadCountChanged(recipient_id=user_id, unread_count=count),
        source_service="notification",
    )


async def add_notification(
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
) -> bool:
    """Write one in-app notice, once: the same event, person and kind again writes nothing.
    Answers whether it was written; a new one is told to the recipient (with their unread
    count after it) in the caller's transaction (tenant set)."""
    inserted = await insert_notification(
        session,
        tenant_id=tenant_id,
        user_id=user_id,
        kind=kind,
        title=title,
        body=body,
        subject=subject,
        link=link,
        data=data,
        source_event_id=source_event_id,
        actor_id=actor_id,
    )
    if inserted is None:
        return False
    await publish(
        session,
        NoticeCreated(
            notification_id=inserted.id,
            recipient_id=user_id,
            kind=kind,
            title=title,
            body=body,
            link=link,
            actor_id=actor_id,
            created_at=inserted.created_at,
            unread_count=await notification_repository.unread_count(session, user_id),
        ),
        source_service="notification",
        subject=f"notifications/{inserted.id}",
        tenant_id=tenant_id,
    )
    return True
