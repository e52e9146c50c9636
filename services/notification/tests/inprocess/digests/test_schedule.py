"""When digests are due, in the agency's own time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from agencyos.notification.digests.schedule import daily_period, weekly_period

BERLIN = ZoneInfo("Europe/Berlin")
TOKYO = ZoneInfo("Asia/Tokyo")


class TestDailyPeriod:
    def test_the_local_day_is_due_from_the_hour_until_midnight(self) -> None:
        assert daily_period(datetime(2026, 12, 8, 6, 59, tzinfo=UTC), BERLIN, 8) is None
        assert daily_period(datetime(2026, 12, 8, 7, 0, tzinfo=UTC), BERLIN, 8) == date(2026, 12, 8)
        assert daily_period(datetime(2026, 12, 8, 22, 59, tzinfo=UTC), BERLIN, 8) == date(
            2026, 12, 8
        )

    def test_a_zone_ahead_of_utc_is_already_on_the_next_day(self) -> None:
        assert daily_period(datetime(2026, 12, 7, 23, 0, tzinfo=UTC), TOKYO, 8) == date(2026, 12, 8)


class TestWeeklyPeriod:
    def test_only_a_local_monday_from_the_hour(self) -> None:
        assert weekly_period(datetime(2026, 12, 7, 6, 59, tzinfo=UTC), BERLIN, 8) is None
        assert weekly_period(datetime(2026, 12, 7, 7, 0, tzinfo=UTC), BERLIN, 8) == date(
            2026, 12, 7
        )
        assert weekly_period(datetime(2026, 12, 8, 7, 0, tzinfo=UTC), BERLIN, 8) is None

    def test_monday_in_tokyo_begins_on_sunday_in_utc(self) -> None:
        assert weekly_period(datetime(2026, 12, 6, 23, 0, tzinfo=UTC), TOKYO, 8) == date(
            2026, 12, 7
        )
