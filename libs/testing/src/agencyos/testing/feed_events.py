"""CloudEvents for tests of the agency feed and its live stream, shaped as their publishers
write them (notification's feed catalog decides who sees each), and publishing recorded feed
entries to the feed topic as notification's recorder does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from agencyos.common.events import CloudEvent
from agencyos.testing.kafka import TopicWriter


def _event(tenant_id: uuid.UUID, event_type: str, source: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(
        source=f"/agencyos/{source}",
        type=event_type,
        dataschema=f"https://agencyos.dev/schemas/{event_type}/v1",
        tenantid=tenant_id,
        data=data,
    )


def task_event(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    *,
    event_type: str = "work.task.created",
    title: str = "A task",
    visible_to_client: bool = False,
) -> CloudEvent:
    return _event(
        tenant_id,
        event_type,
        "work",
        {
            "task_id": str(uuid.uuid4()),
            "project_id": str(project_id),
            "title": title,
            "status": "todo",
            "column_id": str(uuid.uuid4()),
            "assignee_ids": [],
            "visible_to_client": visible_to_client,
            "task_version": 1,
            "actor_id": None,
            "position": 1.0,
        },
    )


def project_event(
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    member_ids: Sequence[uuid.UUID],
    *,
    client_id: uuid.UUID | None = None,
    hourly_rate_cents: int | None = 15000,
) -> CloudEvent:
    """`work.project.updated` telling the project's members (its `project` state)."""
    return _event(
        tenant_id,
        "work.project.updated",
        "work",
        {
            "project_id": str(project_id),
            "changed_fields": ["member_ids"],
            "name": "A project",
            "client_id": None if client_id is None else str(client_id),
            "billing_type": "hourly",
            "currency": "EUR",
            "updated_by": None,
            "project": {
                "name": "A project",
                "client_id": None if client_id is None else str(client_id),
                "status": "active",
                "billing_type": "hourly",
                "hourly_rate_cents": hourly_rate_cents,
                "currency": "EUR",
                "member_ids": [str(m) for m in member_ids],
                "changed_at": datetime.now(UTC).isoformat(),
            },
        },
    )


def invoice_event(tenant_id: uuid.UUID, client_id: uuid.UUID, *, padding: int = 0) -> CloudEvent:
    """`billing.invoice.sent`; `padding` characters of payment link make it as big as wanted."""
    return _event(
        tenant_id,
        "billing.invoice.sent",
        "billing",
        {
            "invoice_id": str(uuid.uuid4()),
            "client_id": str(client_id),
            "number": "INV-1",
            "total_cents": 10000,
            "currency": "EUR",
            "due_date": date.today().isoformat(),
            "payment_url": "https://pay.example/" + "x" * padding,
        },
    )


def notice_event(tenant_id: uuid.UUID, recipient_id: uuid.UUID) -> CloudEvent:
    return _event(
        tenant_id,
        "notification.notice.created",
        "notification",
        {
            "notification_id": str(uuid.uuid4()),
            "recipient_id": str(recipient_id),
            "kind": "task.assigned",
            "title": "You were assigned",
            "body": "",
            "link": None,
            "actor_id": None,
            "created_at": datetime.now(UTC).isoformat(),
            "unread_count": 1,
        },
    )


async def publish_entries(writer: TopicWriter, topic: str, entries: Sequence[Any]) -> None:
    """Publish recorded feed entries (anything with `tenant_id` and `to_message()`, i.e.
    notification's `FeedEntry`) to the feed topic, as the recorder does after committing."""
    for entry in entries:
        await writer.send(
            topic,
            json.dumps(entry.to_message(), separators=(",", ":")).encode(),
            key=str(entry.tenant_id).encode(),
        )
