"""SQL for the overdue and reminder scheduler."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.models import InvoiceReminder


@dataclass(frozen=True)
class DueInvoice:
    """An open invoice the scheduler may have something to do for."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    status: str
    due_date: date
    # the day it went out (reminders never fall on or before it); None when unknown
    sent_on: date | None


class SchedulerRepository:
    async def candidates(
        self, session: AsyncSession, *, due_by: date, overdue_since: date
    ) -> list[DueInvoice]:
        """Open invoices of every agency that may need a notice: not yet overdue and due by
        `due_by` (the earliest reminder offset ahead), or overdue but due on or after
        `overdue_since` (older ones have nothing left to send). Needs a transaction with the
        scheduler flag, which lets it read every agency's invoices (read only)."""
        rows = (
            await session.execute(
                text(
                    "SELECT tenant_id, id, status, due_date, "
                    "COALESCE((sent_at AT TIME ZONE 'UTC')::date, issue_date) AS sent_on "
                    "FROM invoices WHERE due_date IS NOT NULL AND ("
                    "(status IN ('sent', 'partially_paid') AND due_date <= :due_by) "
                    "OR (status = 'overdue' AND due_date >= :overdue_since)) "
                    "ORDER BY tenant_id, due_date"
                ),
                {"due_by": due_by, "overdue_since": overdue_since},
            )
        ).all()
        return [DueInvoice(r.tenant_id, r.id, r.status, r.due_date, r.sent_on) for r in rows]

    async def notices_sent(
        self, session: AsyncSession, invoice_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, set[str]]:
        """The notice kinds already published for these invoices (of the tenant)."""
        rows = (
            await session.execute(
                select(InvoiceReminder.invoice_id, InvoiceReminder.kind).where(
                    InvoiceReminder.invoice_id.in_(list(invoice_ids))
                )
            )
        ).all()
        sent: dict[uuid.UUID, set[str]] = {}
        for invoice_id, kind in rows:
            sent.setdefault(invoice_id, set()).add(kind)
        return sent

    async def claim_notice(
        self, session: AsyncSession, tenant_id: uuid.UUID, invoice_id: uuid.UUID, kind: str
    ) -> bool:
        """Record that a notice goes out; False when it went out before. Committed with the
        event itself, so a notice is published at most once even with two schedulers."""
        row = (
            await session.execute(
                text(
                    "INSERT INTO invoice_reminders (tenant_id, invoice_id, kind) "
                    "VALUES (:tenant, :invoice, :kind) ON CONFLICT DO NOTHING RETURNING kind"
                ),
                {"tenant": tenant_id, "invoice": invoice_id, "kind": kind},
            )
        ).first()
        return row is not None


scheduler_repository = SchedulerRepository()
