"""The in-process tier of CRM: its app through httpx.ASGITransport, its own database (cloned
from the migrated template, emptied after each test), identity and work as typed stand-ins."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess, service_client

crm = service_client("crm")


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner


@pytest.fixture
async def crm_service(in_process: InProcess) -> ServiceInProcess:
    """CRM in this process: its database name and infra, to read rows (the outbox, say) the
    way the platform tier reads the running service's database."""
    return await in_process.service("crm")


@pytest.fixture
async def client(crm: httpx.AsyncClient, agency: Caller) -> dict[str, Any]:
    """A client of the agency, in EUR."""
    return await create_client(crm, agency, currency="EUR")
