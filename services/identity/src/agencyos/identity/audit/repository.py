"""SQL for the audit log. Row-level security scopes every query to the transaction's agency;
nothing here ever updates or deletes a record (the application role could not)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, insert, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.audit.chain import GENESIS_HASH
from agencyos.identity.models import AuditHead, AuditRecord


@dataclass(frozen=True)
class AuditFilters:
    """What `GET /v1/audit-log` and its export narrow the log to (all optional). `action` is
    exact, or a prefix when it ends in `.*` (`invoice.*`)."""

    actor_id: str | None = None
    actor_type: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class AuditRepository:
    # --- appending ------------------------------------------------------------------------

    async def lock_head(self, session: AsyncSession, tenant_id: uuid.UUID) -> tuple[int, str]:
        """The agency's chain head (last seq and hash; 0 and the genesis hash before its first
        record), locked until the transaction ends: appenders of one agency take turns."""
        await session.execute(
            text(
                "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (:tenant, 0, :genesis) "
                "ON CONFLICT (tenant_id) DO NOTHING"
            ),
            {"tenant": tenant_id, "genesis": GENESIS_HASH},
        )
        row = (
            await session.execute(
                select(AuditHead.seq, AuditHead.hash)
                .where(AuditHead.tenant_id == tenant_id)
                .with_for_update()
            )
        ).one()
        return int(row.seq), str(row.hash)

    async def has_event(self, session: AsyncSession, event_id: uuid.UUID) -> bool:
        stmt = select(AuditRecord.seq).where(AuditRecord.event_id == event_id)
        return (await session.execute(stmt)).first() is not None

    async def as_stored(
        self, session: AsyncSession, changes: dict[str, Any], detail: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """`changes` and `detail` as they read back from jsonb (which spells some numbers
        its own way), so the hash is computed over exactly what is stored."""
        row = (
            await session.execute(
                text("SELECT CAST(:changes AS jsonb) AS changes, CAST(:detail AS jsonb) AS detail")
                .bindparams(changes=json.dumps(changes), detail=json.dumps(detail))
                .columns(changes=JSONB, detail=JSONB)
            )
        ).one()
        return dict(row.changes), dict(row.detail)

    async def append(self, session: AsyncSession, values: dict[str, Any]) -> None:
        """Insert one record (its seq and hash already computed under the head's lock) and
        move the head to it."""
        await session.execute(insert(AuditRecord).values(**values))
        await session.execute(
            update(AuditHead)
            .where(AuditHead.tenant_id == values["tenant_id"])
            .values(seq=values["seq"], hash=values["hash"])
        )

    # --- reading --------------------------------------------------------------------------

    def filtered(self, filters: AuditFilters) -> Select[AuditRecord]:
        stmt = select(AuditRecord)
        if filters.actor_id is not None:
            stmt = stmt.where(AuditRecord.actor_id == filters.actor_id)
        if filters.actor_type is not None:
            stmt = stmt.where(AuditRecord.actor_type == filters.actor_type)
        if filters.action is not None:
            if filters.action.endswith(".*"):
                prefix = filters.action[:-1]  # keeps the dot: `invoice.` never `invoices.`
                stmt = stmt.where(AuditRecord.action.like(_like_prefix(prefix), escape="\\"))
            else:
                stmt = stmt.where(AuditRecord.action == filters.action)
        if filters.entity_type is not None:
            stmt = stmt.where(AuditRecord.entity_type == filters.entity_type)
        if filters.entity_id is not None:
            stmt = stmt.where(AuditRecord.entity_id == filters.entity_id)
        if filters.occurred_from is not None:
            stmt = stmt.where(AuditRecord.occurred_at >= filters.occurred_from)
        if filters.occurred_to is not None:
            stmt = stmt.where(AuditRecord.occurred_at < filters.occurred_to)
        return stmt

    async def newest_first(
        self, session: AsyncSession, filters: AuditFilters, *, before_seq: int | None, limit: int
    ) -> Sequence[AuditRecord]:
        """Up to `limit` records matching `filters`, newest (highest seq) first, all below
        `before_seq` when given."""
        stmt = self.filtered(filters)
        if before_seq is not None:
            stmt = stmt.where(AuditRecord.seq < before_seq)
        stmt = stmt.order_by(AuditRecord.seq.desc()).limit(limit)
        return (await session.execute(stmt)).scalars().all()

    async def stream_newest_first(
        self, session: AsyncSession, filters: AuditFilters, *, batch: int = 500
    ) -> AsyncIterator[AuditRecord]:
        """Every record matching `filters`, newest first, read in batches (keyset on seq)."""
        before: int | None = None
        while True:
            records = await self.newest_first(session, filters, before_seq=before, limit=batch)
            for record in records:
                yield record
            if len(records) < batch:
                return
            before = records[-1].seq
            session.expunge_all()

    async def in_chain_order(
        self, session: AsyncSession, *, after_seq: int, limit: int
    ) -> Sequence[AuditRecord]:
        stmt = (
            select(AuditRecord)
            .where(AuditRecord.seq > after_seq)
            .order_by(AuditRecord.seq)
            .limit(limit)
        )
        return (await session.execute(stmt)).scalars().all()

    async def head(self, session: AsyncSession) -> tuple[int, str] | None:
        row = (await session.execute(select(AuditHead.seq, AuditHead.hash))).first()
        return (int(row.seq), str(row.hash)) if row is not None else None


audit_repository = AuditRepository()
