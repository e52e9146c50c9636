"""Agency time zones in tests: set an agency's zone, and pick a zone by the local hour it has
now, so a test can stand a few hours from the agency's midnight (or well away from it)
whenever the suite runs."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from agencyos.testing.factories import AgencySession


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone (`Etc/GMT…`) whose local time is now `hour` o'clock."""
    offset = (hour - datetime.now(UTC).hour) % 24
    if offset > 14:
        offset -= 24
    if offset == 0:
        return "Etc/GMT"
    # POSIX-style names: Etc/GMT-5 is five hours ahead of UTC
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def set_timezone(gateway: httpx.AsyncClient, owner: AgencySession, name: str) -> None:
    response = await gateway.patch("/v1/agency", json={"timezone": name}, headers=owner.headers)
    assert response.status_code == 200, response.text
