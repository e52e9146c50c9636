"""Agencies' time zones: identity stores an IANA name per agency; services judge days in it.
And instants as every AgencyOS API, event and export writes them: RFC 3339 in UTC with `Z`."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


def zone_or_utc(name: str | None) -> ZoneInfo:
    """The zone `name` names; UTC when there is none or this machine does not know it (a
    name valid where it was stored may be missing from an older tz database here)."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def rfc3339_utc(moment: datetime) -> str:
    """`2026-12-04T11:00:05Z`: the instant in UTC, RFC 3339 with `Z` (microseconds kept)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
