"""The audit log's rules: appending an `audit.recorded` event to its agency's hash chain,
reading (filtered, newest first, by cursor), exporting, and verifying the chain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.actor_context import actor_extensions
from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.events import CloudEvent
from agencyos.common.events.audit import AuditRecorded
from agencyos.identity.audit.chain import GENESIS_HASH, HASHED_FIELDS, record_hash
from agencyos.identity.audit.repository import AuditFilters, audit_repository
from agencyos.identity.models import AuditRecord

SOURCE_PREFIX = "/agencyos/"
VERIFY_BATCH = 1000

Problem = Literal["hash_mismatch", "prev_hash_mismatch", "seq_gap"]


@dataclass(frozen=True)
class BrokenLink:
    """The first place the chain does not hold: at `seq` (the record `record_id` found
    there, none when records are missing at the end), what differs."""

    seq: int
    record_id: uuid.UUID | None
    problem: Problem
    expected: str
    found: str


@dataclass(frozen=True)
class Verification:
    records: int
    broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.broken is None


def source_service(source: str) -> str:
    return source.removeprefix(SOURCE_PREFIX).strip("/")[:50] or "unknown"


def fields_of(record: AuditRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in HASHED_FIELDS}


class AuditLogService:
    async def append(self, session: AsyncSession, event: CloudEvent) -> bool:
        """Append `event` (an `audit.recorded`) to its agency's chain, in the caller's
        transaction (under the event's agency); False when it is there already."""
        payload = event.payload(AuditRecorded)
        tenant_id = event.tenantid
        last_seq, last_hash = await audit_repository.lock_head(session, tenant_id)
        # Under the head's lock: a redelivery racing the first delivery sees it here.
        if await audit_repository.has_event(session, event.id):
            return False
        changes, detail = await audit_repository.as_stored(
            session,
            {name: change.model_dump(mode="json") for name, change in payload.changes.items()},
            dict(payload.detail),
        )
        actor = actor_extensions(event.model_extra or {})
        values: dict[str, Any] = {
            "tenant_id": tenant_id,
            "seq": last_seq + 1,
            "id": uuid.uuid4(),
            "event_id": event.id,
            # Microseconds, as PostgreSQL keeps them: the hash is over what is stored.
            "occurred_at": event.time.astimezone(UTC),
            "recorded_at": datetime.now(UTC),
            "actor_type": payload.actor_type,
            "actor_id": payload.actor_id,
            "actor_label": payload.actor_label,
            "action": payload.action,
            "entity_type": payload.entity_type,
            "entity_id": payload.entity_id,
            "changes": changes,
            "detail": detail,
            "ip": actor.ip,
            "user_agent": actor.user_agent,
            "request_id": actor.request_id,
            "source_service": source_service(event.source),
            "prev_hash": last_hash,
        }
        values["hash"] = record_hash(last_hash, values)
        await audit_repository.append(session, values)
        return True

    async def page(
        self,
        session: AsyncSession,
        principal: Principal,
        filters: AuditFilters,
        *,
        before_seq: int | None,
        limit: int,
    ) -> tuple[Sequence[AuditRecord], int | None]:
        """A page of records, newest first, and the seq the next page starts below (None
        when this page is the last)."""
        records = await audit_repository.newest_first(
            session, filters, before_seq=before_seq, limit=limit + 1
        )
        if len(records) > limit:
            return records[:limit], records[limit - 1].seq
        return records, None

    async def record_export(
        self, session: AsyncSession, principal: Principal, filters: AuditFilters
    ) -> None:
        """Exporting the log is itself recorded (`audit_log.exported`, with its filters)."""
        used = {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in vars(filters).items()
            if value is not None
        }
        await record_audit(
            session,
            action="audit_log.exported",
            entity_type="audit_log",
            entity_id=None,
            actor=principal,
            source_service="identity",
            detail={"format": "csv", "filters": used},
        )

    def export(self, session: AsyncSession, filters: AuditFilters) -> AsyncIterator[AuditRecord]:
        return audit_repository.stream_newest_first(session, filters)

    async def verify(self, session: AsyncSession) -> Verification:
        """Walk the agency's chain from seq 1: each record must sit at the next seq, link to
        the hash before it, and hash to its own `hash`; the head must be where the records
        end (records cut off the end leave it further on)."""
        expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
        while True:
            records = await audit_repository.in_chain_order(
                session, after_seq=expected_seq - 1, limit=VERIFY_BATCH
            )
            for record in records:
                broken = self._check(record, expected_seq, prev_hash)
                if broken is not None:
                    return Verification(checked, broken)
                checked += 1
                expected_seq, prev_hash = record.seq + 1, record.hash
            if len(records) < VERIFY_BATCH:
                break
            session.expunge_all()
        head = await audit_repository.head(session)
        if head is not None and head[0] >= expected_seq:
            return Verification(
                checked,
                BrokenLink(
                    seq=expected_seq,
                    record_id=None,
                    problem="seq_gap",
                    expected=f"records up to seq {head[0]}",
                    found=f"the log ends at seq {expected_seq - 1}",
                ),
            )
        return Verification(checked)

    @staticmethod
    def _check(record: AuditRecord, expected_seq: int, prev_hash: str) -> BrokenLink | None:
        if record.seq != expected_seq:
            return BrokenLink(
                seq=expected_seq,
                record_id=record.id,
                problem="seq_gap",
                expected=f"seq {expected_seq}",
                found=f"seq {record.seq}",
            )
        computed = record_hash(record.prev_hash, fields_of(record))
        if computed != record.hash:
            return BrokenLink(record.seq, record.id, "hash_mismatch", computed, record.hash)
        if record.prev_hash != prev_hash:
            return BrokenLink(
                record.seq, record.id, "prev_hash_mismatch", prev_hash, record.prev_hash
            )
        return None


audit_log_service = AuditLogService()
