"""All SQL for invoices, their lines, their numbers and the milestones they bill. Every
statement runs under the caller's tenant (row-level security), so none filters by tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    and_,
    any_,
    cast,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.status import OPEN_STATUSES, InvoiceStatus
from agencyos.billing.models import (
    BillableMilestone,
    BillingSettings,
    Invoice,
    InvoiceLine,
    InvoiceNumberCounter,
)
from agencyos.common.db import Repository

_FRESH = {"populate_existing": True}

_SORTS: dict[str, Any] = {
    "created_at": Invoice.created_at,
    "issue_date": Invoice.issue_date,
    "due_date": Invoice.due_date,
    "number": Invoice.number,
    "total_cents": Invoice.total_cents,
}


@dataclass(frozen=True)
class InvoiceFilters:
    status: str | None = None
    client_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    issue_from: date | None = None
    issue_to: date | None = None
    due_from: date | None = None
    due_to: date | None = None
    # overdue=True: marked overdue, or open past its due date (`today` is the agency's)
    overdue: bool | None = None
    today: date | None = None


@dataclass(frozen=True)
class TotalsRow:
    status: str
    currency: str
    count: int
    total_cents: int
    amount_paid_cents: int
    amount_due_cents: int


@dataclass(frozen=True)
class MilestoneSelection:
    client_id: uuid.UUID
    project_ids: tuple[uuid.UUID, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    timezone: ZoneInfo | None = None


def _overdue() -> ColumnElement[bool]:
    return Invoice.status == InvoiceStatus.OVERDUE.value


def _conditions(filters: InvoiceFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(Invoice.status == filters.status)
    if filters.client_id is not None:
        conditions.append(Invoice.client_id == filters.client_id)
    if filters.project_id is not None:
        conditions.append(any_(Invoice.project_ids) == filters.project_id)
    if filters.issue_from is not None:
        conditions.append(Invoice.issue_date >= filters.issue_from)
    if filters.issue_to is not None:
        conditions.append(Invoice.issue_date <= filters.issue_to)
    if filters.due_from is not None:
        conditions.append(Invoice.due_date >= filters.due_from)
    if filters.due_to is not None:
        conditions.append(Invoice.due_date <= filters.due_to)
    if filters.overdue is not None:
        past_due = and_(
            Invoice.status.in_([s.value for s in OPEN_STATUSES]),
            Invoice.due_date < (filters.today or func.current_date()),
        )
        late = or_(_overdue(), past_due)
        conditions.append(late if filters.overdue else ~late)
    return conditions


def _milestone_conditions(selection: MilestoneSelection) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        BillableMilestone.client_id == selection.client_id,
        BillableMilestone.invoice_id.is_(None),
    ]
    if selection.project_ids:
        conditions.append(BillableMilestone.project_id.in_(selection.project_ids))
    zone = str(selection.timezone or "UTC")
    completed_on = cast(func.timezone(zone, BillableMilestone.completed_at), Date)
    if selection.period_from is not None:
        conditions.append(completed_on >= selection.period_from)
    if selection.period_to is not None:
        conditions.append(completed_on <= selection.period_to)
    return conditions


class InvoiceRepository(Repository[Invoice]):
    model = Invoice

    async def lock(self, session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
        """The invoice, locked until the transaction ends and re-read: every change to an
        invoice and its lines goes through this lock."""
        stmt = (
            select(Invoice)
            .where(Invoice.id == invoice_id)
            .with_for_update()
            .execution_options(**_FRESH)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    def listing(self, filters: InvoiceFilters, sort: str) -> Select[Any]:
        column = _SORTS[sort.lstrip("-")]
        order = column.desc() if sort.startswith("-") else column.asc()
        return (
            select(Invoice)
            .where(*_conditions(filters))
            .order_by(order.nulls_last(), Invoice.created_at.desc(), Invoice.id)
        )

    async def totals(self, session: AsyncSession, filters: InvoiceFilters) -> list[TotalsRow]:
        stmt = (
            select(
                Invoice.status,
                Invoice.currency,
                func.count(),
                func.coalesce(func.sum(Invoice.total_cents), 0),
                func.coalesce(func.sum(Invoice.amount_paid_cents), 0),
                func.coalesce(
                    func.sum(func.greatest(Invoice.total_cents - Invoice.amount_paid_cents, 0)),
                    0,
                ),
            )
            .where(*_conditions(filters))
            .group_by(Invoice.status, Invoice.currency)
        )
        rows = (await session.execute(stmt)).all()
        return [TotalsRow(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in rows]

    # --- lines ----------------------------------------------------------------------------

    async def lines(self, session: AsyncSession, invoice_id: uuid.UUID) -> list[InvoiceLine]:
        stmt = (
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position, InvoiceLine.id)
            .execution_options(**_FRESH)
        )
        return list((await session.execute(stmt)).scalars())

    async def line(
        self, session: AsyncSession, invoice_id: uuid.UUID, line_id: uuid.UUID
    ) -> InvoiceLine | None:
        stmt = select(InvoiceLine).where(
            InvoiceLine.invoice_id == invoice_id, InvoiceLine.id == line_id
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def delete_line(self, session: AsyncSession, line: InvoiceLine) -> None:
        await session.delete(line)
        await session.flush()

    # --- numbering ------------------------------------------------------------------------

    async def next_number(self, session: AsyncSession, tenant_id: uuid.UUID) -> int:
        """The agency's next invoice number. Makes the counter row on first use, then takes
        its row lock by incrementing it: concurrent sends queue here, each gets the next
        number, and a transaction that rolls back gives its number back (no gaps)."""
        await session.execute(
            insert(InvoiceNumberCounter)
            .values(tenant_id=tenant_id, last_number=0)
            .on_conflict_do_nothing()
        )
        stmt = (
            update(InvoiceNumberCounter)
            .where(InvoiceNumberCounter.tenant_id == tenant_id)
            .values(last_number=InvoiceNumberCounter.last_number + 1, updated_at=func.now())
            .returning(InvoiceNumberCounter.last_number)
        )
        return int((await session.execute(stmt)).scalar_one())

    # --- milestones -----------------------------------------------------------------------

    async def unbilled_milestones(
        self, session: AsyncSession, selection: MilestoneSelection
    ) -> list[BillableMilestone]:
        stmt = (
            select(BillableMilestone)
            .where(*_milestone_conditions(selection))
            .order_by(BillableMilestone.completed_at, BillableMilestone.milestone_id)
        )
        return list((await session.execute(stmt)).scalars())

    async def claim_milestones(
        self,
        session: AsyncSession,
        selection: MilestoneSelection,
        invoice_id: uuid.UUID,
        milestone_ids: Sequence[uuid.UUID],
    ) -> list[BillableMilestone]:
        """Give these unbilled milestones to the invoice in one UPDATE; answers those it
        took. A milestone a concurrent run claimed first fails `invoice_id IS NULL` once that
        run commits and is skipped, so no milestone is ever on two invoices."""
        if not milestone_ids:
            return []
        stmt = (
            update(BillableMilestone)
            .where(
                *_milestone_conditions(selection),
                BillableMilestone.milestone_id.in_(milestone_ids),
            )
            .values(invoice_id=invoice_id)
            .returning(BillableMilestone)
            .execution_options(populate_existing=True, synchronize_session=False)
        )
        claimed = list((await session.execute(stmt)).scalars())
        claimed.sort(key=lambda m: (m.completed_at, m.milestone_id))
        return claimed

    async def release_milestones(
        self,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        milestone_ids: Sequence[uuid.UUID] | None = None,
    ) -> int:
        """The invoice's milestones (or these of them) are unbilled again."""
        stmt = update(BillableMilestone).where(BillableMilestone.invoice_id == invoice_id)
        if milestone_ids is not None:
            stmt = stmt.where(BillableMilestone.milestone_id.in_(milestone_ids))
        result = await session.execute(
            stmt.values(invoice_id=None).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def record_milestone(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        milestone_id: uuid.UUID,
        project_id: uuid.UUID,
        client_id: uuid.UUID | None,
        name: str,
        amount_cents: int,
        currency: str,
        completed_at: datetime,
    ) -> None:
        """Remember a completed milestone as billable. A milestone completed again (after a
        reopen) updates the row while it is unbilled; once an invoice holds it, it stays as
        billed (a milestone is billed once, by its id)."""
        values = {
            "project_id": project_id,
            "client_id": client_id,
            "name": name[:200],
            "amount_cents": amount_cents,
            "currency": currency,
            "completed_at": completed_at,
        }
        stmt = insert(BillableMilestone).values(
            tenant_id=tenant_id, milestone_id=milestone_id, **values
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[BillableMilestone.tenant_id, BillableMilestone.milestone_id],
            set_=values,
            where=BillableMilestone.invoice_id.is_(None),
        )
        await session.execute(stmt)

    async def forget_unbilled_milestone(
        self, session: AsyncSession, milestone_id: uuid.UUID
    ) -> None:
        await session.execute(
            delete(BillableMilestone).where(
                BillableMilestone.milestone_id == milestone_id,
                BillableMilestone.invoice_id.is_(None),
            )
        )

    # --- settings -------------------------------------------------------------------------

    async def billing_settings(self, session: AsyncSession) -> BillingSettings | None:
        return (await session.execute(select(BillingSettings))).scalars().first()


invoice_repository = InvoiceRepository()
