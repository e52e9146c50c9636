"""SQL for the overdue and reminder scheduler."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.status import OPEN_STATUSES, InvoiceStatus
from agencyos.billing.models import InvoiceReminder

# Status literals for the text SQL below, from the one enum: 'sent', 'partially_paid', ...
_OPEN_SQL = ", ".join(f"'{status.value}'" for status in OPEN_STATUSES)
_OVERDUE_SQL = f"'{InvoiceStatus.OVERDUE.value}'"


@dataclass(frozen=True)
class DueInvoice:
    """An open invoice the scheduler may have something to do for."""

    tenant_id: uuid.UUID
    id: uuid.UUID
    status: str
    due_date: date
    sent_at: datetime | None
    issue_date: date | None
    # the agency's time zone when it was sent (None: sent before invoices kept it; UTC)
    timezone: str | None


class SchedulerRepository:
    async def candidates(
        self,
        session: AsyncSession,
        *,
        today: date,
        catch_up_days: int,
        default_offsets: Sequence[int],
    ) -> list[DueInvoice]:
        """Open invoices of every agency that may need a notice today: past due and not yet
        marked (or not yet announced) overdue, or with a reminder day of the agency's offsets
        within the last `catch_up_days` that has not gone out. A superset of what
        `plan_for` sends, narrow enough that invoices far from their due date cost nothing
        per tick: `today` is the UTC day, and since an invoice's own day (in its agency's
        zone) is at most one day either side of it, the window is a day wider each way.
        Needs a transaction with the scheduler flag, which lets it read every agency's
        invoices, settings and sent notices (read only)."""
        rows = (
            await session.execute(
                text(
                    "SELECT i.tenant_id, i.id, i.status, i.due_date, i.sent_at, i.issue_date, "
                    "i.timezone "
                    "FROM invoices i "
                    "LEFT JOIN billing_settings s ON s.tenant_id = i.tenant_id "
                    "WHERE i.due_date IS NOT NULL "
                    f"AND i.status IN ({_OPEN_SQL}) AND ("
                    f"(i.status <> {_OVERDUE_SQL} AND i.due_date < :today) "
                    f"OR (i.status = {_OVERDUE_SQL} AND NOT EXISTS ("
                    "SELECT 1 FROM invoice_reminders r "
                    "WHERE r.tenant_id = i.tenant_id AND r.invoice_id = i.id "
                    "AND r.kind = 'overdue')) "
                    "OR EXISTS (SELECT 1 FROM unnest(COALESCE(s.reminder_offsets_days, "
                    "CAST(:default_offsets AS integer[]))) AS o(days) "
                    "WHERE i.due_date + o.days <= :today "
                    "AND i.due_date + o.days >= :window_start "
                    "AND NOT EXISTS (SELECT 1 FROM invoice_reminders r "
                    "WHERE r.tenant_id = i.tenant_id AND r.invoice_id = i.id "
                    "AND r.kind = 'reminder:' || o.days))) "
                    "ORDER BY i.tenant_id, i.due_date"
                ),
                {
                    "today": today + timedelta(days=1),
                    "window_start": today - timedelta(days=catch_up_days + 1),
                    "default_offsets": list(default_offsets),
                },
            )
        ).all()
        return [
            DueInvoice(r.tenant_id, r.id, r.status, r.due_date, r.sent_at, r.issue_date, r.timezone)
            for r in rows
        ]

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
