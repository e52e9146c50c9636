"""Time entries as CSV: streamed in batches from a transaction of its own (the response goes
on after the request's transaction has ended), with people's, projects' and tasks' names
looked up per batch from identity and work.

Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as
a formula (OWASP "CSV injection"); such cells get a leading `'` and stay text."""

from __future__ import annotations

import csv
import dataclasses
import io
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import Database
from agencyos.common.errors import AppError
from agencyos.common.logs import get_logger
from agencyos.common.zones import rfc3339_utc
from agencyos.time.entry.repository import EntryFilters, entry_repository
from agencyos.time.models import TimeEntry
from agencyos.time.peers import Peers

log = get_logger(__name__)

SERVICE = "time"

COLUMNS = (
    "id",
    "date",
    "user_id",
    "person",
    "project_id",
    "project",
    "task_id",
    "task",
    "client_id",
    "started_at",
    "ended_at",
    "duration_seconds",
    "hours",
    "description",
    "is_billable",
    "status",
    "invoice_id",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

T = TypeVar("T")


def guard(value: str) -> str:
    """Make a cell inert in spreadsheets: a leading `'` before what would start a formula."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return rfc3339_utc(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _hours(duration_seconds: int) -> str:
    """Hours with two decimals, rounded half up (exact integer arithmetic)."""
    hundredths = (duration_seconds * 100 + 1800) // 3600
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def lines(records: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(records)
    return buffer.getvalue()


async def _names(lookup: Awaitable[dict[uuid.UUID, T]], what: str) -> dict[uuid.UUID, T]:
    """Names are a convenience: when a peer cannot answer, the export goes on without them."""
    try:
        return await lookup
    except AppError as exc:
        log.warning("export without names", what=what, error=exc.detail)
        return {}


async def record_export(
    session: AsyncSession, principal: Principal, filters: EntryFilters, sort: str
) -> None:
    """Record in the audit log that `principal` exported the entries `filters` pick (in the
    request's transaction, committed before the file is streamed)."""
    chosen = {k: v for k, v in dataclasses.asdict(filters).items() if v is not None}
    await record_audit(
        session,
        action="time_entries.exported",
        entity_type="time_entry",
        entity_id=None,
        actor=principal,
        source_service=SERVICE,
        detail={"format": "csv", "filters": chosen, "sort": sort},
    )


async def export_csv(
    db: Database, principal: Principal, peers: Peers, filters: EntryFilters, sort: str
) -> AsyncIterator[str]:
    """The filtered entries (already scoped to what the caller may see) as CSV text."""
    yield lines([list(COLUMNS)])
    stmt = entry_repository.filtered_query(filters, sort=sort)
    async with db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
        async for batch in entry_repository.stream(session, stmt):
            yield await _rows(principal, peers, batch)


async def _rows(principal: Principal, peers: Peers, batch: list[TimeEntry]) -> str:
    people = await _names(peers.identity.members(principal, [e.user_id for e in batch]), "people")
    projects = await _names(
        peers.work.projects(principal, [e.project_id for e in batch]), "projects"
    )
    task_ids = [e.task_id for e in batch if e.task_id is not None]
    tasks = await _names(peers.work.tasks(principal, task_ids), "tasks") if task_ids else {}
    records = []
    for entry in batch:
        person = people.get(entry.user_id)
        task = tasks.get(entry.task_id) if entry.task_id else None
        cells = [
            entry.id,
            entry.date.isoformat(),
            entry.user_id,
            person.name if person else "",
            entry.project_id,
            project.name if (project := projects.get(entry.project_id)) else "",
            entry.task_id,
            task.title if task else "",
            entry.client_id,
            entry.started_at,
            entry.ended_at,
            entry.duration_seconds,
            _hours(entry.duration_seconds),
            entry.description,
            entry.is_billable,
            entry.status,
            entry.invoice_id,
        ]
        records.append([guard(_text(cell)) for cell in cells])
    return lines(records)
