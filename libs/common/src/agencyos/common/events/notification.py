"""notification's event contracts: what one person's open streams and feeds learn about their
own notifications (never anyone else's: the feed shows them only to `recipient_id`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import ConfigDict, Field

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


@register
class WebhookFailed(EventPayload):
    """A delivery of event `event_id` to a webhook endpoint failed for good: every attempt
    allowed was made (or the endpoint answered 410 Gone)."""

    event_type: ClassVar[str] = "notification.webhook.failed"
    model_config = ConfigDict(extra="ignore", frozen=True, serialize_by_alias=True)
    endpoint_id: uuid.UUID
    delivery_id: uuid.UUID
    event_id: uuid.UUID
    # the data field `event_type` (the class's own `event_type` names this event's type)
    delivered_type: str = Field(alias="event_type")
    attempts: int
    last_status_code: int | None


@register
class WebhookEndpointDisabled(EventPayload):
    """AgencyOS stopped sending to a webhook endpoint: `gone` (it answered 410) or `failing`
    (every attempt failed for days)."""

    event_type: ClassVar[str] = "notification.webhook_endpoint.disabled"
    endpoint_id: uuid.UUID
    reason: str
