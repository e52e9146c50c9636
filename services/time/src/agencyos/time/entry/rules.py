"""The calendar arithmetic behind the entry rules, kept free of I/O: whole seconds, the
agency's today, and cutting an interval at the agency's midnights.

Timestamps are kept to whole seconds (cut down, never rounded up), so a timed entry's
duration is exactly its interval and two entries that meet at a second never overlap (the
exclusion constraint compares half-open ranges, `[started_at, ended_at)`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from agencyos.time.models.entry import MAX_ENTRY_SECONDS

__all__ = [
    "EARLIEST_DAY",
    "MAX_ENTRY_SECONDS",
    "Piece",
    "local_today",
    "split_by_day",
    "start_of_day",
    "whole_seconds",
]

# Time before this is refused as a typo rather than stored (and never overflows a calendar).
EARLIEST_DAY = date(2000, 1, 1)


def whole_seconds(moment: datetime) -> datetime:
    """`moment` in UTC, cut down to the second."""
    return moment.astimezone(UTC).replace(microsecond=0)


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    """Today's date in `zone` (the agency's timezone)."""
    return (now or datetime.now(UTC)).astimezone(zone).date()


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def start_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of `day` in `zone`. Where clocks skip midnight (a DST change at
    00:00), the naive midnight does not exist; with fold=0 it maps to the instant of the
    change, which is that day's first moment all the same."""
    return datetime.combine(day, time.min).replace(tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True)
class Piece:
    """One day's part of an interval."""

    day: date
    started_at: datetime
    ended_at: datetime

    @property
    def duration_seconds(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds())


def split_by_day(started_at: datetime, ended_at: datetime, zone: ZoneInfo) -> list[Piece]:
    """`[started_at, ended_at)` cut at every midnight of `zone` in between: one piece per
    local day it touches, dated by that day. An interval within one day is one piece."""
    pieces: list[Piece] = []
    cursor = started_at
    while cursor < ended_at:
        day = local_date(cursor, zone)
        boundary = start_of_day(day + timedelta(days=1), zone)
        if boundary <= cursor:  # cannot happen with real zones; never loop forever
            boundary = cursor + timedelta(days=1)
        piece_end = min(ended_at, boundary)
        pieces.append(Piece(day, cursor, piece_end))
        cursor = piece_end
    return pieces
