"""The opaque cursor of a newest-first listing: where the last page ended, for whom and under
which filters, signed so any edit is refused rather than read as a position. (Signed with the
service's signing key under a purpose of its own, so it can never pass as an unsubscribe
token, nor one as a cursor.)"""

from __future__ import annotations

import uuid
from datetime import datetime

from agencyos.notification.inapp.repository import NoticeFilter, Position
from agencyos.notification.signing import InvalidSignedValue, read_signed, sign_values

_PURPOSE = "agencyos.notification.cursor.v1"


class InvalidCursor(ValueError):
    pass


def _bound(wanted: NoticeFilter) -> list[str | bool | None]:
    return [str(wanted.user_id), wanted.unread, wanted.kind]


def encode_cursor(key: str, wanted: NoticeFilter, position: Position) -> str:
    values = [position.created_at.isoformat(), str(position.id), *_bound(wanted)]
    return sign_values(key, _PURPOSE, values)


def decode_cursor(key: str, wanted: NoticeFilter, cursor: str) -> Position:
    """The position `cursor` stands for; InvalidCursor when it was not made by this service
    for this caller and these filters."""
    try:
        created_at, notice_id, *bound = read_signed(key, _PURPOSE, cursor)
        position = Position(datetime.fromisoformat(str(created_at)), uuid.UUID(str(notice_id)))
    except InvalidSignedValue as exc:
        raise InvalidCursor(f"not a cursor of this list: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise InvalidCursor("not a cursor of this list: malformed") from exc
    if bound != _bound(wanted):
        raise InvalidCursor("the cursor belongs to another list (other filters or person)")
    return position
