"""The feed in PostgreSQL: recording events in a gapless per-agency sequence, and reading them
back for one reader.

`seq` is given out under the agency's `feed_heads` row lock, taken in the recording
transaction: an agency's events commit in `seq` order, with no holes, so "everything after
cursor N" is always a complete answer, and a reader that saw N+2 before N+1 knows N+1 exists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent
from agencyos.notification.feed.catalog import FeedRule, rule_for
from agencyos.notification.feed.types import TypeFilter
from agencyos.notification.feed.visibility import FeedEntry, Viewer


class CursorExpired(LookupError):
    """The cursor points before what retention keeps: events after it are gone."""


class CursorUnknown(LookupError):
    """The cursor points past the agency's last event: it is not of this agency's feed."""


@dataclass(frozen=True)
class NewEntry:
    """An event about to be recorded, with who may read it."""

    event_id: uuid.UUID
    type: str
    occurred_at: datetime
    permission: str | None
    project_id: uuid.UUID | None
    client_id: uuid.UUID | None
    person_id: uuid.UUID | None
    personal: bool
    client_visible: bool
    envelope: Mapping[str, Any]


def _field_uuid(data: Mapping[str, Any], name: str | None) -> uuid.UUID | None:
    if name is None:
        return None
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def describe(event: CloudEvent, *, project_client_id: uuid.UUID | None = None) -> NewEntry | None:
    """The feed entry for `event`, or None when the feed does not keep its type.

    `project_client_id`: the client of the event's project, for types whose data does not
    name the client (tasks); the recorder looks it up."""
    rule: FeedRule | None = rule_for(event.type)
    if rule is None:
        return None
    data = event.data
    client_id = _field_uuid(data, rule.client) if rule.client else project_client_id
    envelope = event.model_dump(mode="json", exclude_none=True)
    return NewEntry(
        event_id=event.id,
        type=event.type,
        occurred_at=event.time,
        permission=rule.permission,
        project_id=_field_uuid(data, rule.project),
        client_id=client_id,
        person_id=_field_uuid(data, rule.person),
        personal=rule.personal,
        client_visible=client_id is not None and rule.client_visible(data),
        envelope=envelope,
    )


_COLUMNS = (
    "tenant_id, seq, event_id, type, occurred_at, permission, project_id, client_id, "
    "person_id, personal, client_visible, envelope"
)


def _entry(row: Any) -> FeedEntry:
    return FeedEntry(
        tenant_id=row.tenant_id,
        seq=row.seq,
        event_id=row.event_id,
        type=row.type,
        occurred_at=row.occurred_at,
        permission=row.permission,
        project_id=row.project_id,
        client_id=row.client_id,
        person_id=row.person_id,
        personal=row.personal,
        client_visible=row.client_visible,
        envelope=row.envelope,
    )


async def record(
    session: AsyncSession, tenant_id: uuid.UUID, entries: Sequence[NewEntry]
) -> list[FeedEntry]:
    """Record `entries` (one agency's, in order) in the caller's transaction, which must be
    opened under `tenant_id`. Events recorded before keep their `seq`. Answers every entry as
    recorded, the earlier ones included, in `seq` order."""
    if not entries:
        return []
    ids = [entry.event_id for entry in entries]
    # The agency's head row, locked first: a concurrent recording of the same events waits
    # here, then sees them recorded (no unique violation, no seq given out twice).
    head = (
        await session.execute(
            text(
                "INSERT INTO feed_heads (tenant_id, last_seq) VALUES (:tenant, 0) "
                "ON CONFLICT (tenant_id) DO UPDATE SET last_seq = feed_heads.last_seq "
                "RETURNING last_seq"
            ),
            {"tenant": tenant_id},
        )
    ).scalar_one()
    known = {
        row.event_id
        for row in (
            await session.execute(
                text("SELECT event_id FROM feed_events WHERE event_id = ANY(:ids)"),
                {"ids": ids},
            )
        ).all()
    }
    fresh: list[NewEntry] = []
    seen: set[uuid.UUID] = set()
    for entry in entries:
        if entry.event_id in known or entry.event_id in seen:
            continue
        seen.add(entry.event_id)
        fresh.append(entry)
    if fresh:
        first, last = head + 1, head + len(fresh)
        await session.execute(
            text("UPDATE feed_heads SET last_seq = :last WHERE tenant_id = :tenant"),
            {"last": last, "tenant": tenant_id},
        )
        await session.execute(
            text(
                "INSERT INTO feed_events (tenant_id, seq, event_id, type, occurred_at, "
                "permission, project_id, client_id, person_id, personal, client_visible, "
                "envelope) "
                "SELECT :tenant, s.seq, s.event_id, s.type, s.occurred_at, s.permission, "
                "s.project_id, s.client_id, s.person_id, s.personal, s.client_visible, "
                "s.envelope "
                "FROM unnest(CAST(:seqs AS bigint[]), CAST(:event_ids AS uuid[]), "
                "CAST(:types AS text[]), CAST(:occurred AS timestamptz[]), "
                "CAST(:permissions AS text[]), CAST(:projects AS uuid[]), "
                "CAST(:clients AS uuid[]), CAST(:persons AS uuid[]), "
                "CAST(:personals AS boolean[]), CAST(:client_visibles AS boolean[]), "
                "CAST(:envelopes AS jsonb[])) "
                "AS s(seq, event_id, type, occurred_at, permission, project_id, client_id, "
                "person_id, personal, client_visible, envelope)"
            ),
            {
                "tenant": tenant_id,
                "seqs": list(range(first, last + 1)),
                "event_ids": [e.event_id for e in fresh],
                "types": [e.type for e in fresh],
                "occurred": [e.occurred_at for e in fresh],
                "permissions": [e.permission for e in fresh],
                "projects": [e.project_id for e in fresh],
                "clients": [e.client_id for e in fresh],
                "persons": [e.person_id for e in fresh],
                "personals": [e.personal for e in fresh],
                "client_visibles": [e.client_visible for e in fresh],
                "envelopes": [_json(e.envelope) for e in fresh],
            },
        )
    rows = (
        await session.execute(
            text(f"SELECT {_COLUMNS} FROM feed_events WHERE event_id = ANY(:ids) ORDER BY seq"),
            {"ids": ids},
        )
    ).all()
    return [_entry(row) for row in rows]


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)


def visibility_sql(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """`visibility.sees` as a WHERE clause over feed_events (the tenant is RLS's)."""
    params: dict[str, Any] = {"viewer_user": viewer.user_id}
    mine = "(person_id IS NOT NULL AND person_id = :viewer_user)"
    if viewer.is_client:
        if viewer.client_id is None:
            return f"(personal AND {mine})", params
        params["viewer_client"] = viewer.client_id
        return (
            f"((personal AND {mine}) OR "
            "(NOT personal AND client_visible AND client_id = :viewer_client))",
            params,
        )
    params["viewer_permissions"] = sorted(viewer.permissions)
    project = "TRUE"
    if viewer.project_ids is not None:
        params["viewer_projects"] = sorted(viewer.project_ids)
        project = f"(project_id IS NULL OR {mine} OR project_id = ANY(:viewer_projects))"
    return (
        f"((personal AND {mine}) OR (NOT personal "
        f"AND (permission IS NULL OR permission = ANY(:viewer_permissions) OR {mine}) "
        f"AND {project}))",
        params,
    )


def _types_sql(types: TypeFilter, params: dict[str, Any]) -> str:
    if types.everything:
        return "TRUE"
    params["types_exact"] = sorted(types.exact)
    params["types_like"] = [prefix.replace("_", "\\_") + "%" for prefix in types.prefixes]
    return "(type = ANY(:types_exact) OR type LIKE ANY(:types_like))"


@dataclass(frozen=True)
class FeedPage:
    entries: list[FeedEntry]
    # Every seq up to here was considered (seen or not by this reader): the next read starts
    # after it. It is the last entry's seq on a full page, else the agency's head.
    through_seq: int
    # More may follow right away (the page was full).
    more: bool


async def position(session: AsyncSession) -> tuple[int, int]:
    """(last_seq, pruned_through) of the session's agency; (0, 0) before its first event."""
    row = (await session.execute(text("SELECT last_seq, pruned_through FROM feed_heads"))).first()
    return (0, 0) if row is None else (row.last_seq, row.pruned_through)


async def read_after(
    session: AsyncSession,
    viewer: Viewer,
    after_seq: int | None,
    *,
    types: TypeFilter = TypeFilter(),  # noqa: B008 - frozen, never mutated
    limit: int = 100,
    through_seq: int | None = None,
) -> FeedPage:
    """The events after `after_seq` that `viewer` sees, oldest first, at most `limit`.

    `after_seq` None: from the oldest event retention keeps. A cursor retention has passed
    raises `CursorExpired`; one past the agency's last event (another agency's) raises
    `CursorUnknown`. `through_seq` caps the read (the stream filling a gap)."""
    last_seq, pruned_through = await position(session)
    start = pruned_through if after_seq is None else after_seq
    if after_seq is not None and after_seq < pruned_through:
        raise CursorExpired(
            "this cursor is older than the feed keeps; events after it were deleted by "
            "retention. Start again without a cursor (from the oldest kept event)."
        )
    if after_seq is not None and after_seq > last_seq:
        raise CursorUnknown(
            "this cursor is not of your agency's feed: use the `cursor` of an event you "
            "received, or start without one"
        )
    end = last_seq if through_seq is None else min(through_seq, last_seq)
    where, params = visibility_sql(viewer)
    params.update({"after": start, "end": end, "limit": limit})
    types_where = _types_sql(types, params)
    rows = (
        await session.execute(
            text(
                f"SELECT {_COLUMNS} FROM feed_events "
                f"WHERE seq > :after AND seq <= :end AND {where} AND {types_where} "
                "ORDER BY seq LIMIT :limit"
            ),
            params,
        )
    ).all()
    entries = [_entry(row) for row in rows]
    full = len(entries) == limit
    through = entries[-1].seq if full else max(end, start)
    return FeedPage(entries, through, full and through < end)


async def prune(session: AsyncSession, older_than: datetime, *, batch: int = 5000) -> int:
    """Delete the session's agency's events recorded before `older_than` (oldest first, at
    most `batch`), and move `pruned_through` past them. Returns how many were deleted."""
    deleted = (
        (
            await session.execute(
                text(
                    "WITH doomed AS (SELECT seq FROM feed_events WHERE recorded_at < :cutoff "
                    "ORDER BY seq LIMIT :batch) "
                    "DELETE FROM feed_events f USING doomed WHERE f.seq = doomed.seq "
                    "RETURNING f.seq"
                ),
                {"cutoff": older_than, "batch": batch},
            )
        )
        .scalars()
        .all()
    )
    if deleted:
        await session.execute(
            text("UPDATE feed_heads SET pruned_through = GREATEST(pruned_through, :seq)"),
            {"seq": max(deleted)},
        )
    return len(deleted)
