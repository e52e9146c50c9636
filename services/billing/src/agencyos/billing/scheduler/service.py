"""What the scheduler does on each tick: mark open invoices past their due date `overdue`
(publishing `billing.invoice.overdue` once per invoice) and publish payment reminders
(`billing.invoice.reminder`) at the agency's offsets from the due date, once per invoice and
offset.

Days are the agency's days: an invoice keeps its agency's time zone from when it was sent
(its issue and due dates are days there), and one due on D is overdue from the start of D+1
in that zone. An invoice sent before invoices kept their zone is judged in UTC.

Reminder rules (decided here):
- A reminder goes out on or after its day (due date + offset) while the invoice is still
  open (sent, partially paid or overdue) — never for paid, void or draft invoices.
- Only the latest reminder whose day has come is considered: an invoice that is already 10
  days late when first seen gets the 7-days-after reminder, not also the ones for -3 and 1.
- A reminder more than `CATCH_UP_DAYS` past its day is skipped (it would only tell the client
  something stale): that covers a scheduler that was down for a few days without sending old
  news when an agency adds an offset later.
- No reminder falls on or before the day the invoice went out.
- Each (invoice, offset) goes out at most once (`invoice_reminders`, committed with the
  event), even when the agency changes its offsets or two schedulers overlap.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.billing_settings.service import billing_settings_service
from agencyos.billing.invoice.parties import bill_to, issuer
from agencyos.billing.invoice.status import InvoiceStatus, Move
from agencyos.billing.models import Invoice
from agencyos.billing.models.invoice import SCHEDULER_SETTING
from agencyos.billing.models.settings import DEFAULT_REMINDER_OFFSETS_DAYS
from agencyos.billing.payment.repository import payment_repository
from agencyos.billing.payment.service import SERVICE, invoice_subject
from agencyos.billing.scheduler.repository import DueInvoice, scheduler_repository
from agencyos.common.db import Database
from agencyos.common.events import InvoiceOverdue, InvoiceReminder
from agencyos.common.logs import get_logger
from agencyos.common.outbox import publish
from agencyos.common.zones import UTC_ZONE, zone_or_utc

log = get_logger(__name__)

# the notice (an `invoice_reminders` kind) that announces an invoice overdue, once
OVERDUE_NOTICE = "overdue"
CATCH_UP_DAYS = 7


def reminder_kind(offset: int) -> str:
    return f"reminder:{offset}"


@dataclass(frozen=True)
class Plan:
    mark_overdue: bool
    reminder_offset: int | None

    @property
    def empty(self) -> bool:
        return not self.mark_overdue and self.reminder_offset is None


def plan_for(
    *,
    status: str,
    due_date: date,
    sent_on: date | None,
    today: date,
    offsets: Sequence[int],
    already_sent: set[str],
) -> Plan:
    """What is due for one invoice today (pure: the tick and its tests share it)."""
    current = InvoiceStatus(status)
    if not current.is_open:
        return Plan(False, None)
    past_due = due_date < today
    mark_overdue = past_due and (
        current.can_become(InvoiceStatus.OVERDUE) or OVERDUE_NOTICE not in already_sent
    )
    reminder: int | None = None
    arrived = [o for o in offsets if due_date + timedelta(days=o) <= today]
    if arrived:
        latest = max(arrived)
        day = due_date + timedelta(days=latest)
        fresh = (today - day).days <= CATCH_UP_DAYS
        after_sending = sent_on is None or day > sent_on
        if fresh and after_sending and reminder_kind(latest) not in already_sent:
            reminder = latest
    return Plan(mark_overdue, reminder)


def local_day(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


def sent_day(sent_at: datetime | None, issue_date: date | None, zone: ZoneInfo) -> date | None:
    """The day it went out (reminders never fall on or before it); None when unknown."""
    if sent_at is not None:
        return local_day(sent_at, zone)
    return issue_date


@dataclass
class TickResult:
    overdue: int = 0
    reminders: int = 0


class SchedulerService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def tick(self, now: datetime) -> TickResult:
        """One pass over every agency's open invoices, each judged on its own day at `now`."""
        result = TickResult()
        async with self.db.transaction(None, settings={SCHEDULER_SETTING: "on"}) as session:
            candidates = await scheduler_repository.candidates(
                session,
                today=local_day(now, UTC_ZONE),
                catch_up_days=CATCH_UP_DAYS,
                default_offsets=DEFAULT_REMINDER_OFFSETS_DAYS,
            )
        for tenant_id, group in groupby(candidates, key=lambda c: c.tenant_id):
            try:
                await self._tick_agency(tenant_id, list(group), now, result)
            except Exception:
                # one agency's trouble must not starve the others; the next tick retries
                log.exception("scheduler failed for an agency", tenant_id=str(tenant_id))
        if result.overdue or result.reminders:
            log.info("scheduler tick", overdue=result.overdue, reminders=result.reminders)
        return result

    async def _tick_agency(
        self, tenant_id: uuid.UUID, invoices: list[DueInvoice], now: datetime, result: TickResult
    ) -> None:
        async with self.db.transaction(tenant_id) as session:
            settings = await billing_settings_service.effective_settings(session)
            sent = await scheduler_repository.notices_sent(session, [i.id for i in invoices])
        offsets = settings.reminder_offsets_days
        for candidate in invoices:
            zone = zone_or_utc(candidate.timezone)
            plan = plan_for(
                status=candidate.status,
                due_date=candidate.due_date,
                sent_on=sent_day(candidate.sent_at, candidate.issue_date, zone),
                today=local_day(now, zone),
                offsets=offsets,
                already_sent=sent.get(candidate.id, set()),
            )
            if plan.empty:
                continue
            # Each invoice in its own transaction under its agency: decided again on the
            # locked row, so a payment that just landed wins and nothing goes out twice.
            async with self.db.transaction(tenant_id) as session:
                await self._act(session, candidate.id, now, offsets, result)

    async def _act(
        self,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        now: datetime,
        offsets: Sequence[int],
        result: TickResult,
    ) -> None:
        invoice = await payment_repository.lock_invoice(session, invoice_id)
        if invoice is None or invoice.due_date is None:
            return
        sent = (await scheduler_repository.notices_sent(session, [invoice.id])).get(
            invoice.id, set()
        )
        plan = plan_for(
            status=invoice.status,
            due_date=invoice.due_date,
            sent_on=sent_day(invoice.sent_at, invoice.issue_date, zone_or_utc(invoice.timezone)),
            today=local_day(now, zone_or_utc(invoice.timezone)),
            offsets=offsets,
            already_sent=sent,
        )
        if plan.mark_overdue:
            if invoice.status != InvoiceStatus.OVERDUE:
                invoice.status = (
                    InvoiceStatus(invoice.status)
                    .transition(InvoiceStatus.OVERDUE, Move.MARK_OVERDUE)
                    .value
                )
                invoice.version += 1
                await session.flush()
            if await scheduler_repository.claim_notice(
                session, invoice.tenant_id, invoice.id, OVERDUE_NOTICE
            ):
                await self._publish_overdue(session, invoice)
                result.overdue += 1
        if plan.reminder_offset is not None and await scheduler_repository.claim_notice(
            session, invoice.tenant_id, invoice.id, reminder_kind(plan.reminder_offset)
        ):
            await self._publish_reminder(session, invoice, plan.reminder_offset)
            result.reminders += 1

    async def _publish_overdue(self, session: AsyncSession, invoice: Invoice) -> None:
        assert invoice.number is not None
        assert invoice.due_date is not None
        await publish(
            session,
            InvoiceOverdue(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                number=invoice.number,
                total_cents=invoice.total_cents,
                amount_due_cents=invoice.amount_due_cents,
                currency=invoice.currency,
                due_date=invoice.due_date,
                payment_url=invoice.payment_url,
                bill_to=bill_to(invoice),
                issuer=issuer(invoice),
            ),
            source_service=SERVICE,
            subject=invoice_subject(invoice.id),
            tenant_id=invoice.tenant_id,
        )

    async def _publish_reminder(self, session: AsyncSession, invoice: Invoice, offset: int) -> None:
        assert invoice.number is not None
        assert invoice.due_date is not None
        await publish(
            session,
            InvoiceReminder(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                number=invoice.number,
                amount_due_cents=invoice.amount_due_cents,
                currency=invoice.currency,
                due_date=invoice.due_date,
                days_from_due=offset,
                payment_url=invoice.payment_url,
                bill_to=bill_to(invoice),
                issuer=issuer(invoice),
            ),
            source_service=SERVICE,
            subject=invoice_subject(invoice.id),
            tenant_id=invoice.tenant_id,
        )
