"""An agency's time zone name, or UTC when it names none this machine knows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from agencyos.common.zones import zone_or_utc


def test_a_known_name_is_that_zone() -> None:
    assert zone_or_utc("Pacific/Kiritimati") == ZoneInfo("Pacific/Kiritimati")


@pytest.mark.parametrize("name", [None, "", "Mars/Olympus_Mons", "../etc/passwd"])
def test_no_name_or_an_unknown_one_is_utc(name: str | None) -> None:
    assert zone_or_utc(name) == ZoneInfo("UTC")
