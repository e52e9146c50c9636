from __future__ import annotations

import httpx
import pytest

from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.notices import Cast, cast


@pytest.fixture
async def people(
    in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
) -> Cast:
    """The agency, its project and the people the recipient rules tell apart."""
    return await cast(in_process, tenant, other_tenant)
