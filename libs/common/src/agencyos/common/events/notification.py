"""notification's event contracts: what one person's open streams and feeds learn about their
own notifications (never anyone else's: the feed shows them only to `recipient_id`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from agencyos.common.events.envelope import EventPayload, register


@register
class NoticeCreated(EventPayload):
    """A new in-app notification for `recipient_id`, with their unread count after it."""

    event_type: ClassVar[str] = "notification.notice.created"
    notification_id: uuid.UUID
    recipient_id: uuid.UUID
    kind: str
    title: str
    body: str
    link: str | None
    actor_id: uuid.UUID | None
    created_at: datetime
    unread_count: int


@register
class UnreadCountChanged(EventPayload):
    """`recipient_id` read one or all of their notifications: their unread count now."""

    event_type: ClassVar[str] = "notification.unread_count.changed"
    recipient_id: uuid.UUID
    unread_count: int
