"""Weeks and the lock between logging time and submitting a week.

Every write that adds, changes or removes an entry of a person's week first takes
`lock_week(..., for_update=False)` (a shared lock on that week's timesheet row, created if
missing); submitting, approving and rejecting take it `for_update=True`. So an entry can never
slip into a week while it is being submitted, and once a week is submitted or approved its
entries stay as they are."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import Timesheet

# Weeks in these states take no new, changed or deleted entries.
LOCKED_STATUSES = ("submitted", "approved")


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


async def lock_week(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    day: date,
    *,
    for_update: bool = False,
) -> Timesheet:
    """The timesheet of `user_id`'s week containing `day` (created `open` if missing), locked
    for the rest of the transaction: shared for entry writes, exclusive for state changes."""
    monday = week_start(day)
    await session.execute(
        insert(Timesheet)
        .values(id=uuid.uuid4(), tenant_id=tenant_id, user_id=user_id, week_start=monday)
        .on_conflict_do_nothing(constraint="uq_timesheets_week")
    )
    query = select(Timesheet).where(
        Timesheet.tenant_id == tenant_id,
        Timesheet.user_id == user_id,
        Timesheet.week_start == monday,
    )
    query = query.with_for_update() if for_update else query.with_for_update(read=True)
    sheet = (await session.scalars(query.execution_options(populate_existing=True))).one()
    return sheet


# ISO weeks as the API names them: `2026-W47`. Years outside this range are refused as bad
# input rather than turned into timesheet rows nobody meant to create.
ISO_WEEK_PATTERN = r"^(\d{4})-W(\d{2})$"
MIN_YEAR = 1970
MAX_YEAR = 2999


def parse_iso_week(text: str) -> date:
    """The Monday of ISO week `text` (`YYYY-Www`); ValueError for anything else, including a
    week the year does not have (`2025-W53`, `2026-W54`)."""
    found = re.fullmatch(ISO_WEEK_PATTERN, text)
    if found is None:
        raise ValueError("a week is written YYYY-Www, e.g. 2026-W47")
    year, week = int(found.group(1)), int(found.group(2))
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    try:
        return date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no ISO week {week}") from None


def iso_week_label(monday: date) -> str:
    """`2026-W47` for the week starting `monday`."""
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def week_days(monday: date) -> list[date]:
    return [monday + timedelta(days=offset) for offset in range(7)]
