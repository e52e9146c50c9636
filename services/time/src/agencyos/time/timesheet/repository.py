"""SQL for timesheets and the entries of a week (an entry belongs to the timesheet of its
person and ISO week; no column links them)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.time.models import TimeEntry, Timer, Timesheet

_SORTS: dict[str, Any] = {
    "week_start": Timesheet.week_start,
    "submitted_at": Timesheet.submitted_at,
}


@dataclass(frozen=True)
class SheetTotals:
    entry_count: int = 0
    total_seconds: int = 0
    billable_seconds: int = 0


class TimesheetRepository(Repository[Timesheet]):
    model = Timesheet

    async def week_entries(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        monday: date,
        *,
        statuses: Sequence[str] | None = None,
        for_update: bool = False,
    ) -> list[TimeEntry]:
        """`user_id`'s entries dated in the week starting `monday`. `for_update` locks them
        (in id order, so two lockers never wait on each other crosswise)."""
        stmt = select(TimeEntry).where(
            TimeEntry.user_id == user_id,
            TimeEntry.date >= monday,
            TimeEntry.date <= monday + timedelta(days=6),
        )
        if statuses is not None:
            stmt = stmt.where(TimeEntry.status.in_(list(statuses)))
        if for_update:
            stmt = stmt.order_by(TimeEntry.id).with_for_update()
            stmt = stmt.execution_options(populate_existing=True)
        else:
            stmt = stmt.order_by(
                TimeEntry.date,
                TimeEntry.started_at.asc().nulls_last(),
                TimeEntry.created_at,
                TimeEntry.id,
            )
        return list((await session.scalars(stmt)).all())

    def listing(
        self,
        *,
        user_id: uuid.UUID | None,
        status: str | None,
        week_from: date | None,
        week_to: date | None,
        sort: str,
    ) -> Select[Any]:
        stmt = select(Timesheet)
        if user_id is not None:
            stmt = stmt.where(Timesheet.user_id == user_id)
        if status is not None:
            stmt = stmt.where(Timesheet.status == status)
        if week_from is not None:
            stmt = stmt.where(Timesheet.week_start >= week_from)
        if week_to is not None:
            stmt = stmt.where(Timesheet.week_start <= week_to)
        column = _SORTS[sort.lstrip("-")]
        order = column.desc() if sort.startswith("-") else column.asc()
        return stmt.order_by(order.nulls_last(), Timesheet.user_id, Timesheet.id)

    async def totals(
        self, session: AsyncSession, sheets: Sequence[Timesheet]
    ) -> dict[uuid.UUID, SheetTotals]:
        """Each sheet's entry count and seconds (all statuses), in one query."""
        if not sheets:
            return {}
        billable = func.coalesce(
            func.sum(case((TimeEntry.is_billable, TimeEntry.duration_seconds), else_=0)), 0
        )
        stmt = (
            select(
                Timesheet.id,
                func.count(TimeEntry.id),
                func.coalesce(func.sum(TimeEntry.duration_seconds), 0),
                billable,
            )
            .join(
                TimeEntry,
                (TimeEntry.tenant_id == Timesheet.tenant_id)
                & (TimeEntry.user_id == Timesheet.user_id)
                & (TimeEntry.date >= Timesheet.week_start)
                & (TimeEntry.date < Timesheet.week_start + 7),
            )
            .where(Timesheet.id.in_([s.id for s in sheets]))
            .group_by(Timesheet.id)
        )
        rows = (await session.execute(stmt)).all()
        return {row[0]: SheetTotals(int(row[1]), int(row[2]), int(row[3])) for row in rows}

    async def running_timer(self, session: AsyncSession, user_id: uuid.UUID) -> Timer | None:
        stmt = select(Timer).where(Timer.user_id == user_id)
        return (await session.execute(stmt)).scalar_one_or_none()


timesheet_repository = TimesheetRepository()
