"""What the email tests share: the service's database as the application sees it."""

from __future__ import annotations

import pytest

from agencyos.common.db import Database
from agencyos.testing.inprocess import InProcess


@pytest.fixture
async def notification_db(in_process: InProcess) -> Database:
    """Notification's database as its application role (row-level security applies)."""
    return (await in_process.service("notification")).ctx.database()
