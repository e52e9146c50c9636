"""All SQL for taking time onto invoices. Every statement runs under the caller's tenant
(row-level security), so none of them filters by tenant itself."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import TimeEntry

_FRESH = {"populate_existing": True}
_BULK = {"populate_existing": True, "synchronize_session": False}


@dataclass(frozen=True)
class Selection:
    """Which of a client's entries an invoice run is about."""

    client_id: uuid.UUID
    project_ids: tuple[uuid.UUID, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    currency: str | None = None


def _selected(selection: Selection) -> list[ColumnElement[bool]]:
    conditions = [TimeEntry.client_id == selection.client_id]
    if selection.project_ids:
        conditions.append(TimeEntry.project_id.in_(selection.project_ids))
    if selection.period_from is not None:
        conditions.append(TimeEntry.date >= selection.period_from)
    if selection.period_to is not None:
        conditions.append(TimeEntry.date <= selection.period_to)
    return conditions


# Approved, billable and held by no invoice: what may be invoiced.
_UNBILLED: tuple[ColumnElement[bool], ...] = (
    TimeEntry.status == "approved",
    TimeEntry.is_billable.is_(True),
    TimeEntry.invoice_id.is_(None),
)


def _in_currency(currency: str, projects_in_currency: Sequence[uuid.UUID]) -> ColumnElement[bool]:
    """Valued in `currency`: frozen in it, or not frozen and on a project billed in it."""
    unfrozen_here = (
        and_(TimeEntry.currency.is_(None), TimeEntry.project_id.in_(projects_in_currency))
        if projects_in_currency
        else false()
    )
    return or_(TimeEntry.currency == currency, unfrozen_here)


def _ordered(stmt: Select[TimeEntry]) -> Select[TimeEntry]:
    return stmt.order_by(
        TimeEntry.date, TimeEntry.user_id, TimeEntry.started_at.nulls_last(), TimeEntry.id
    )


class InvoicingRepository:
    async def unbilled(self, session: AsyncSession, selection: Selection) -> Sequence[TimeEntry]:
        stmt = select(TimeEntry).where(*_UNBILLED, *_selected(selection))
        return (await session.scalars(_ordered(stmt), execution_options=_FRESH)).all()

    async def candidate_project_ids(
        self, session: AsyncSession, selection: Selection, invoice_id: uuid.UUID
    ) -> list[uuid.UUID]:
        """The projects of the entries a reservation may touch: the selection's unbilled ones
        and those the invoice already holds."""
        stmt = (
            select(TimeEntry.project_id)
            .where(
                or_(
                    and_(*_UNBILLED, *_selected(selection)),
                    TimeEntry.invoice_id == invoice_id,
                )
            )
            .distinct()
        )
        return list((await session.scalars(stmt)).all())

    async def held_by(self, session: AsyncSession, invoice_id: uuid.UUID) -> Sequence[TimeEntry]:
        stmt = select(TimeEntry).where(TimeEntry.invoice_id == invoice_id)
        return (await session.scalars(_ordered(stmt), execution_options=_FRESH)).all()

    async def claim(
        self,
        session: AsyncSession,
        selection: Selection,
        invoice_id: uuid.UUID,
        *,
        entry_ids: Sequence[uuid.UUID],
        projects_in_currency: Sequence[uuid.UUID],
    ) -> Sequence[TimeEntry]:
        """Hand the selected unbilled entries to `invoice_id` in one UPDATE and answer the
        ones it took.

        Why no entry is handed out twice: the inner query locks its rows (FOR UPDATE, in id
        order so that concurrent claims cannot deadlock); a row another transaction changed
        meanwhile is re-read once that transaction ends and dropped when it no longer
        matches (`invoice_id IS NULL` fails for a row another invoice took). The outer
        UPDATE repeats the conditions on the rows it writes."""
        conditions = [*_UNBILLED, *_selected(selection)]
        if entry_ids:
            conditions.append(TimeEntry.id.in_(entry_ids))
        if selection.currency is not None:
            conditions.append(_in_currency(selection.currency, projects_in_currency))
        locked = select(TimeEntry.id).where(*conditions).order_by(TimeEntry.id).with_for_update()
        stmt = (
            update(TimeEntry)
            .where(TimeEntry.id.in_(locked.scalar_subquery()), *conditions)
            .values(
                invoice_id=invoice_id,
                reserved_at=func.now(),
                version=TimeEntry.version + 1,
                updated_at=func.now(),
            )
            .returning(TimeEntry)
        )
        return (await session.scalars(stmt, execution_options=_BULK)).all()

    async def mark_invoiced(
        self, session: AsyncSession, invoice_id: uuid.UUID
    ) -> Sequence[TimeEntry]:
        """The invoice's reserved entries become invoiced; answers the ones this changed."""
        stmt = (
            update(TimeEntry)
            .where(TimeEntry.invoice_id == invoice_id, TimeEntry.status == "approved")
            .values(status="invoiced", version=TimeEntry.version + 1, updated_at=func.now())
            .returning(TimeEntry)
        )
        return (await session.scalars(stmt, execution_options=_BULK)).all()

    async def count_invoiced(self, session: AsyncSession, invoice_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            TimeEntry.invoice_id == invoice_id, TimeEntry.status == "invoiced"
        )
        return int((await session.execute(stmt)).scalar_one())

    async def lock_held(self, session: AsyncSession, invoice_id: uuid.UUID) -> Sequence[TimeEntry]:
        """The invoice's entries, locked until the transaction ends (as they are before a
        release, for the trail)."""
        stmt = (
            select(TimeEntry)
            .where(TimeEntry.invoice_id == invoice_id)
            .order_by(TimeEntry.id)
            .with_for_update()
        )
        return (await session.scalars(stmt, execution_options=_FRESH)).all()

    async def release(
        self, session: AsyncSession, entry_ids: Sequence[uuid.UUID]
    ) -> Sequence[TimeEntry]:
        """These entries are held by no invoice any more and approved (unbilled) again."""
        stmt = (
            update(TimeEntry)
            .where(TimeEntry.id.in_(entry_ids), TimeEntry.invoice_id.is_not(None))
            .values(
                invoice_id=None,
                reserved_at=None,
                status="approved",
                version=TimeEntry.version + 1,
                updated_at=func.now(),
            )
            .returning(TimeEntry)
        )
        return (await session.scalars(stmt, execution_options=_BULK)).all()


invoicing_repository = InvoicingRepository()
