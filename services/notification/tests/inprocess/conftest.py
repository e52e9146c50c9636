"""The in-process tier of notification: its app through httpx.ASGITransport, its database
cloned from the template and emptied after each test, events handed to its own consumer
runner (`in_process.deliver`) instead of read from Kafka."""

from __future__ import annotations

import pytest

from agencyos.testing.inprocess import Agency, Caller, service_client

notification = service_client("notification")


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner
