"""`/v1/audit-log`: the agency's audit log, read (newest first, by cursor), exported as CSV
and verified. Needs `audit.read` (owners and admins by default)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from agencyos.common.errors import InvalidInput
from agencyos.common.events.audit import ActorType
from agencyos.common.web import TenantSession, service_context
from agencyos.identity.audit import cursor
from agencyos.identity.audit.export import csv_chunks
from agencyos.identity.audit.permissions import AuditRead
from agencyos.identity.audit.repository import AuditFilters
from agencyos.identity.audit.schemas import (
    AuditActorOut,
    AuditPage,
    AuditRecordOut,
    AuditVerification,
    BrokenLinkOut,
)
from agencyos.identity.audit.service import audit_log_service
from agencyos.identity.models import AuditRecord

router = APIRouter(prefix="/v1/audit-log", tags=["audit log"])

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
_ACTION = r"^[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?$"
# Ids as services record them (UUIDs, slugs, emails): one word, no spaces.
_NAME = r"^\S{1,200}$"

_WHO = " Needs `audit.read` (owners and admins by default; API keys by their role)."
_CHAIN = (
    " Each record carries `prev_hash` and `hash`: SHA-256 over the previous record's hash, a "
    "newline and the record's fields as canonical JSON (sorted keys, no spaces, UTF-8; "
    "timestamps RFC 3339 UTC with microseconds), 64 zeros before the first record."
)


def _time_problem(field: str, message: str, kind: str) -> InvalidInput:
    return InvalidInput(
        f"invalid fields: query.{field}",
        errors=[{"field": f"query.{field}", "message": message, "type": kind}],
    )


def _utc(moment: datetime | None, field: str) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise _time_problem(field, "give a time zone (e.g. `Z` or `+01:00`)", "timezone_missing")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 east of UTC, year 9999 west of it
        raise _time_problem(field, "out of the range of times", "datetime_range") from exc


def audit_filters(
    actor_id: Annotated[
        str | None, Query(pattern=_NAME, description="The user's or API key's id")
    ] = None,
    actor_type: Annotated[ActorType | None, Query(description="Who acted")] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=200,
            pattern=_ACTION,
            description="An action (`invoice.sent`) or every action under a prefix (`invoice.*`)",
        ),
    ] = None,
    entity_type: Annotated[str | None, Query(pattern=_NAME)] = None,
    entity_id: Annotated[str | None, Query(pattern=_NAME)] = None,
    occurred_from: Annotated[
        datetime | None,
        Query(alias="from", description="Done at or after this time (RFC 3339)"),
    ] = None,
    occurred_to: Annotated[
        datetime | None, Query(alias="to", description="Done before this time (RFC 3339)")
    ] = None,
) -> AuditFilters:
    filters = AuditFilters(
        actor_id=actor_id,
        actor_type=actor_type,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        occurred_from=_utc(occurred_from, "from"),
        occurred_to=_utc(occurred_to, "to"),
    )
    if (
        filters.occurred_from is not None
        and filters.occurred_to is not None
        and filters.occurred_from >= filters.occurred_to
    ):
        raise InvalidInput(
            "invalid fields: query.from, query.to",
            errors=[{"field": "query.from", "message": "must be before `to`", "type": "range"}],
        )
    return filters


Filters = Annotated[AuditFilters, Depends(audit_filters)]


def record_out(record: AuditRecord) -> AuditRecordOut:
    return AuditRecordOut(
        id=record.id,
        seq=record.seq,
        occurred_at=record.occurred_at,
        recorded_at=record.recorded_at,
        actor=AuditActorOut(
            type=record.actor_type,
            id=record.actor_id,
            label=record.actor_label,
        ),
        action=record.action,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        changes=record.changes,
        detail=record.detail,
        ip=record.ip,
        user_agent=record.user_agent,
        request_id=record.request_id,
        source_service=record.source_service,
        event_id=record.event_id,
        prev_hash=record.prev_hash,
        hash=record.hash,
    )


@router.get(
    "",
    response_model=AuditPage,
    summary="The agency's audit log, newest first",
    description=(
        "Who did what, when and from where: every security- and money-relevant action of "
        "every service (sign-ins, roles, API keys, invoices…), with the changed fields before "
        "and after, the actor's IP address, user agent and request id. Filters combine; "
        "`action` takes an exact action or a prefix (`invoice.*`); `from` and `to` bound "
        "when the action was done. Pages by an opaque cursor, not by page numbers: the log "
        "keeps growing at the newest end while you read, so a page number would shift and "
        "repeat records; a cursor continues right after the last record you saw." + _WHO + _CHAIN
    ),
    responses={
        403: {"description": "The caller lacks `audit.read`"},
        422: {"description": "An invalid filter or cursor"},
    },
)
async def list_audit_log(
    principal: AuditRead,
    session: TenantSession,
    filters: Filters,
    cursor_text: Annotated[
        str | None,
        Query(alias="cursor", max_length=64, description="A page's `next_cursor`"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Records per page")] = (
        DEFAULT_LIMIT
    ),
) -> AuditPage:
    before_seq = None
    if cursor_text is not None:
        try:
            before_seq = cursor.decode(cursor_text)
        except cursor.InvalidCursor as exc:
            raise InvalidInput(
                "invalid fields: query.cursor",
                errors=[{"field": "query.cursor", "message": str(exc), "type": "cursor"}],
            ) from exc
    records, next_seq = await audit_log_service.page(
        session, principal, filters, before_seq=before_seq, limit=limit
    )
    return AuditPage(
        items=[record_out(r) for r in records],
        next_cursor=cursor.encode(next_seq) if next_seq is not None else None,
    )


@router.get(
    "/export",
    response_class=StreamingResponse,
    summary="Export the audit log as CSV (streamed, every matching record)",
    description=(
        "The same filters as the list; every matching record, newest first, streamed as it is "
        "read. The columns are every field the hash covers plus `prev_hash` and `hash`, so the "
        "chain can be recomputed from the file: timestamps as RFC 3339 UTC with microseconds, "
        "`changes` and `detail` as compact JSON with sorted keys, an empty cell for null. A "
        "cell a spreadsheet would run as a formula, or that starts with `'`, gets a leading "
        "`'`: remove one leading `'` from every cell that has one before recomputing. The "
        "export is itself recorded in the log (`audit_log.exported`)." + _WHO
    ),
    responses={
        200: {"content": {"text/csv": {}}, "description": "The records, as CSV"},
        403: {"description": "The caller lacks `audit.read`"},
        422: {"description": "An invalid filter"},
    },
)
async def export_audit_log(
    principal: AuditRead, session: TenantSession, filters: Filters, request: Request
) -> StreamingResponse:
    # Recorded in the request's transaction (committed before the file streams).
    await audit_log_service.record_export(session, principal, filters)
    db = service_context(request).database()

    async def body() -> AsyncIterator[str]:
        # A transaction of its own: the request's ends before the response streams.
        async with db.transaction(principal.tenant_id, user_id=principal.user_id) as reading:
            async for chunk in csv_chunks(audit_log_service.export(reading, filters)):
                yield chunk

    filename = f"audit-log-{datetime.now(UTC).strftime('%Y-%m-%dT%H%M%SZ')}.csv"
    return StreamingResponse(
        body(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


@router.get(
    "/verify",
    response_model=AuditVerification,
    summary="Check the agency's audit log for tampering",
    description=(
        'Walks the hash chain from the first record: `{"ok": true, "records": N}` when '
        "every record is intact, in place and linked, or the first broken link: its `seq`, "
        "the record found there and what differs (`hash_mismatch`: a field was changed; "
        "`prev_hash_mismatch`: records were removed, inserted or reordered; `seq_gap`: "
        "records are missing)." + _WHO + _CHAIN
    ),
    responses={403: {"description": "The caller lacks `audit.read`"}},
)
async def verify_audit_log(principal: AuditRead, session: TenantSession) -> AuditVerification:
    outcome = await audit_log_service.verify(session)
    broken = outcome.broken
    return AuditVerification(
        ok=outcome.ok,
        records=outcome.records,
        broken=BrokenLinkOut(
            seq=broken.seq,
            id=broken.record_id,
            problem=broken.problem,
            expected=broken.expected,
            found=broken.found,
        )
        if broken is not None
        else None,
    )
