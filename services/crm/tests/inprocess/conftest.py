"""The in-process tier of CRM: its app through httpx.ASGITransport, its own database (cloned
from the migrated template, emptied after each test), identity and work as typed stand-ins."""

from __future__ import annotations

import pytest

from agencyos.testing.inprocess import Agency, Caller, service_client

crm = service_client("crm")


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner
