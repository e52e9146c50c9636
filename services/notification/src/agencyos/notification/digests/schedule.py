"""When a digest is due, in the agency's own time (pure: the worker and its tests share it).

- The daily digest (`tasks.due`) of a local day is due from `hour` o'clock that day until
  midnight: a worker that was down at `hour` still sends it later the same day, never a
  day late (yesterday's list would be stale).
- The weekly digest (`digest.weekly`) of a week is due from `hour` o'clock on its Monday
  until that Monday ends (the same catch-up, the same limit).
Each is claimed once per person and period (the local day; the week's Monday).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

MONDAY = 0


def local_now(now: datetime, zone: ZoneInfo) -> datetime:
    return now.astimezone(zone)


def daily_period(now: datetime, zone: ZoneInfo, hour: int) -> date | None:
    """The local day whose daily digest is due at `now`; None before `hour`."""
    here = local_now(now, zone)
    return here.date() if here.hour >= hour else None


def weekly_period(now: datetime, zone: ZoneInfo, hour: int) -> date | None:
    """The Monday whose weekly digest is due at `now`; None on other days or before `hour`."""
    here = local_now(now, zone)
    return here.date() if here.weekday() == MONDAY and here.hour >= hour else None
