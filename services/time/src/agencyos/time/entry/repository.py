"""All SQL for time entries and their audit trail. Row-level security scopes every query to
the transaction's agency; who sees whose entries is a filter applied here on the service's
request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, func, literal, select
from sqlalchemy.dialects.postgresql import TSTZRANGE
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.time.models import TimeEntry, TimeEntryChange, Timer

# The exclusion constraint that keeps one person's intervals apart.
NO_OVERLAP_CONSTRAINT = "time_entries_no_overlap"
EXPORT_BATCH = 500

_SORTS: dict[str, tuple[Any, ...]] = {
    "-date": (
        TimeEntry.date.desc(),
        TimeEntry.started_at.desc().nulls_last(),
        TimeEntry.created_at.desc(),
        TimeEntry.id.desc(),
    ),
    "date": (
        TimeEntry.date.asc(),
        TimeEntry.started_at.asc().nulls_last(),
        TimeEntry.created_at.asc(),
        TimeEntry.id.asc(),
    ),
    "-created_at": (TimeEntry.created_at.desc(), TimeEntry.id.desc()),
    "created_at": (TimeEntry.created_at.asc(), TimeEntry.id.asc()),
}


@dataclass(frozen=True)
class EntryFilters:
    user_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    date_from: date | None = None
    date_to: date | None = None
    is_billable: bool | None = None
    status: str | None = None


def _range(started_at: Any, ended_at: Any) -> Any:
    """`tstzrange(started, ended, '[)')`, the same range the exclusion constraint compares."""
    return func.tstzrange(started_at, ended_at, literal("[)"), type_=TSTZRANGE)


class EntryRepository(Repository[TimeEntry]):
    model = TimeEntry

    def filtered_query(self, filters: EntryFilters, *, sort: str = "-date") -> Select[Any]:
        stmt = select(TimeEntry)
        if filters.user_id is not None:
            stmt = stmt.where(TimeEntry.user_id == filters.user_id)
        if filters.project_id is not None:
            stmt = stmt.where(TimeEntry.project_id == filters.project_id)
        if filters.task_id is not None:
            stmt = stmt.where(TimeEntry.task_id == filters.task_id)
        if filters.client_id is not None:
            stmt = stmt.where(TimeEntry.client_id == filters.client_id)
        if filters.date_from is not None:
            stmt = stmt.where(TimeEntry.date >= filters.date_from)
        if filters.date_to is not None:
            stmt = stmt.where(TimeEntry.date <= filters.date_to)
        if filters.is_billable is not None:
            stmt = stmt.where(TimeEntry.is_billable.is_(filters.is_billable))
        if filters.status is not None:
            stmt = stmt.where(TimeEntry.status == filters.status)
        return stmt.order_by(*_SORTS[sort])

    async def lock(self, session: AsyncSession, entry_id: uuid.UUID) -> TimeEntry | None:
        """The entry with its row locked for the rest of the transaction (re-read)."""
        stmt = (
            select(TimeEntry)
            .where(TimeEntry.id == entry_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def first_overlapping(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        started_at: datetime,
        ended_at: datetime,
        *,
        excluding: uuid.UUID | None = None,
    ) -> TimeEntry | None:
        """The earliest timed entry of `user_id` whose interval overlaps
        `[started_at, ended_at)` (committed ones included: each statement reads afresh)."""
        stmt = select(TimeEntry).where(
            TimeEntry.user_id == user_id,
            TimeEntry.started_at.is_not(None),
            _range(TimeEntry.started_at, TimeEntry.ended_at).op("&&")(_range(started_at, ended_at)),
        )
        if excluding is not None:
            stmt = stmt.where(TimeEntry.id != excluding)
        stmt = stmt.order_by(TimeEntry.started_at, TimeEntry.id).limit(1)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def running_timer(self, session: AsyncSession, user_id: uuid.UUID) -> Timer | None:
        stmt = select(Timer).where(Timer.user_id == user_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def delete(self, session: AsyncSession, entry: TimeEntry) -> None:
        await session.delete(entry)
        await session.flush()

    async def stream(
        self, session: AsyncSession, stmt: Select[Any]
    ) -> AsyncIterator[list[TimeEntry]]:
        """The rows of `stmt` in batches, through a server-side cursor."""
        result = await session.stream(stmt.execution_options(yield_per=EXPORT_BATCH))
        async for partition in result.scalars().partitions(EXPORT_BATCH):
            yield list(partition)


entry_repository = EntryRepository()


class ChangeRepository(Repository[TimeEntryChange]):
    """The audit trail (written by `agencyos.time.audit`)."""

    model = TimeEntryChange

    def history_query(self, entry_id: uuid.UUID) -> Select[Any]:
        return (
            select(TimeEntryChange)
            .where(TimeEntryChange.entry_id == entry_id)
            .order_by(TimeEntryChange.at, TimeEntryChange.id)
        )

    async def trail_owner(self, session: AsyncSession, entry_id: uuid.UUID) -> uuid.UUID | None:
        """Whose entry the trail of `entry_id` is about (for an entry deleted since): the
        `user_id` its latest row carries, old or new."""
        owner = func.coalesce(
            TimeEntryChange.changes["user_id"]["new"].astext,
            TimeEntryChange.changes["user_id"]["old"].astext,
        )
        stmt = (
            select(owner)
            .where(TimeEntryChange.entry_id == entry_id, owner.is_not(None))
            .order_by(TimeEntryChange.at.desc(), TimeEntryChange.id.desc())
            .limit(1)
        )
        raw = (await session.execute(stmt)).scalar_one_or_none()
        return uuid.UUID(raw) if raw else None


change_repository = ChangeRepository()
