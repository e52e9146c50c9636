"""The rules of a person's in-app notifications: only their own, newest first, paged by page
number or by cursor."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound, field_error
from agencyos.notification.inapp.cursor import InvalidCursor, decode_cursor, encode_cursor
from agencyos.notification.inapp.repository import (
    NoticeFilter,
    Position,
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
        return await notification_repository.mark_read(session, notice)

    async def mark_all_read(
        self, session: AsyncSession, principal: Principal, kind: str | None
    ) -> int:
        return await notification_repository.mark_all_read(
            session, principal.user_id, checked_kind(kind)
        )


notification_service = NotificationService()
