"""Agencies' time zones: identity stores an IANA name per agency; services judge days in it."""

from __future__ import annotations

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
