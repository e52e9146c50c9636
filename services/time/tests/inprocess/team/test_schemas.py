"""A weekly capacity (`team/schemas.py`) is a number of hours from 0 to 168, two decimals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller


class TestCapacityHours:
    @pytest.mark.parametrize("hours", [-1, 168.01, 169, 1e6, "abc", None, 37.555, "NaN"])
    async def test_capacity_must_be_within_a_week(
        self, time_api: httpx.AsyncClient, agency: Caller, hours: Any
    ) -> None:
        response = await time_api.put(
            f"/v1/capacity/{agency.user_id}",
            json={"weekly_capacity_hours": hours},
            headers=agency.headers,
        )
        assert_invalid_fields(response, "weekly_capacity_hours")
