"""The entry audit trail: every write to a time entry goes through `record` in the same
transaction, so the trail can never miss a change (who, when, old and new per field)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import TimeEntry, TimeEntryChange

# The fields the trail follows (everything a person or a workflow can change).
TRACKED_FIELDS = (
    "user_id",
    "project_id",
    "task_id",
    "date",
    "started_at",
    "ended_at",
    "duration_seconds",
    "description",
    "is_billable",
    "status",
    "invoice_id",
    "billable_rate_cents",
    "cost_rate_cents",
    "currency",
)


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(entry: TimeEntry) -> dict[str, Any]:
    """The tracked fields of an entry as they are now (call before changing it)."""
    return {name: _json(getattr(entry, name)) for name in TRACKED_FIELDS}


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: {"old": before.get(name), "new": after.get(name)}
        for name in TRACKED_FIELDS
        if before.get(name) != after.get(name)
    }


async def record(
    session: AsyncSession,
    entry: TimeEntry,
    *,
    actor_id: uuid.UUID | None,
    action: str,
    before: dict[str, Any] | None,
) -> None:
    """Write one trail row for `entry`. `action` is created, updated, deleted, submitted,
    approved, rejected, reserved, invoiced or released. `before` is `snapshot(entry)` taken
    before the change (None for created); for deleted, pass the snapshot and the trail keeps
    every old value."""
    if action == "created":
        changes = {k: {"old": None, "new": v} for k, v in snapshot(entry).items()}
    elif action == "deleted":
        changes = {k: {"old": v, "new": None} for k, v in (before or {}).items()}
    else:
        changes = diff(before or {}, snapshot(entry))
        if not changes:
            return
    session.add(
        TimeEntryChange(
            tenant_id=entry.tenant_id,
            entry_id=entry.id,
            actor_id=actor_id,
            action=action,
            changes=changes,
        )
    )
