import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    kind: str
    title: str
    body: str
    subject: str | None
    # The API path of what it is about (`/v1/tasks/<id>`), when it is about something.
    link: str | None
    actor_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    """One shape for both ways of paging (see GET /v1/notifications)."""

    items: list[NotificationOut]
    # Page mode only (null in cursor mode, which never counts).
    total: int | None
    page: int | None
    per_page: int
    # Where the next, older items start: pass it as `cursor`; null when there are no more.
    next_cursor: str | None


class UnreadCount(BaseModel):
    unread: int


class MarkedRead(BaseModel):
    marked: int
