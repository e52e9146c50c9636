"""What the email tests share: the service's database as the application sees it, and an
SMTP server of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agencyos.common.db import Database
from agencyos.notification.settings import NotificationSettings
from agencyos.testing.inprocess import InProcess
from agencyos.testing.smtp_sink import SmtpSink


@pytest.fixture
async def notification_db(in_process: InProcess) -> Database:
    """Notification's database as its application role (row-level security applies)."""
    return (await in_process.service("notification")).ctx.database()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on a port of this test's own, started."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


def settings_for(sink: SmtpSink, **changes: Any) -> NotificationSettings:
    return NotificationSettings(smtp_port=sink.port, smtp_timeout_seconds=5.0, **changes)
