"""The audit log as CSV: one row per record, newest first, with every hashed field, so that
the chain can be recomputed from the file alone (agencyos.identity.audit.chain).

Cells are the stored values: ids as UUIDs, timestamps as the hash spells them (RFC 3339 UTC,
microseconds, `Z`), `changes` and `detail` as compact JSON with sorted keys; an empty cell is
null. A cell a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a
carriage return) or that starts with `'` gets a leading `'`: remove one leading `'` from every
cell that has one before recomputing a hash."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from agencyos.identity.audit.chain import timestamp
from agencyos.identity.models import AuditRecord

COLUMNS = (
    "seq",
    "id",
    "tenant_id",
    "occurred_at",
    "recorded_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "detail",
    "ip",
    "user_agent",
    "request_id",
    "source_service",
    "event_id",
    "prev_hash",
    "hash",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_PER_CHUNK = 200


def guard(value: str) -> str:
    """Inert in spreadsheets: a leading `'` before what would start a formula, and before a
    value that starts with `'` itself, so removing one leading `'` (where there is one)
    always gives the value back."""
    if value.startswith((*FORMULA_STARTS, "'")):
        return "'" + value
    return value


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if hasattr(value, "astimezone"):
        return timestamp(value)
    return str(value)


def row_of(record: AuditRecord) -> list[str]:
    return [guard(cell(getattr(record, column))) for column in COLUMNS]


def lines(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


async def csv_chunks(records: AsyncIterator[AuditRecord]) -> AsyncIterator[str]:
    yield lines([list(COLUMNS)])
    batch: list[list[str]] = []
    async for record in records:
        batch.append(row_of(record))
        if len(batch) >= ROWS_PER_CHUNK:
            yield lines(batch)
            batch = []
    if batch:
        yield lines(batch)
