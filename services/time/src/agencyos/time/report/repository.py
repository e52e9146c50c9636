"""SQL for the utilization report: logged and billable seconds per person or per project."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import TimeEntry


@dataclass(frozen=True)
class LoggedTime:
    key: uuid.UUID  # the person or the project
    logged_seconds: int
    billable_seconds: int
    people: int  # distinct people (per project)


class ReportRepository:
    async def logged(
        self,
        session: AsyncSession,
        *,
        start: date,
        end: date,
        statuses: Sequence[str],
        group_by: str,
        user_ids: Sequence[uuid.UUID] | None,
    ) -> list[LoggedTime]:
        """Seconds of entries dated `start`..`end` (inclusive) in `statuses`, per person
        (`group_by` member) or per project; only `user_ids`' entries when given."""
        key = TimeEntry.user_id if group_by == "member" else TimeEntry.project_id
        billable = func.coalesce(
            func.sum(case((TimeEntry.is_billable, TimeEntry.duration_seconds), else_=0)), 0
        )
        stmt = (
            select(
                key,
                func.coalesce(func.sum(TimeEntry.duration_seconds), 0),
                billable,
                func.count(func.distinct(TimeEntry.user_id)),
            )
            .where(
                TimeEntry.date >= start,
                TimeEntry.date <= end,
                TimeEntry.status.in_(list(statuses)),
            )
            .group_by(key)
        )
        if user_ids is not None:
            stmt = stmt.where(TimeEntry.user_id.in_(list(user_ids)))
        rows = (await session.execute(stmt)).all()
        return [LoggedTime(row[0], int(row[1]), int(row[2]), int(row[3])) for row in rows]


report_repository = ReportRepository()
