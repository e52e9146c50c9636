"""Fixtures of the billing tests."""

from __future__ import annotations

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.invoicing import Books, new_books
from agencyos.testing.platform import Platform


@pytest.fixture
async def books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    """The agency's client with a billable project, to invoice."""
    return await new_books(platform, gateway, agency)
