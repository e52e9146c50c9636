"""The utilization report's parameters (`report/endpoints.py`): dates, range, grouping,
thresholds and statuses that make no sense are refused, naming the query field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller


class TestParameters:
    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"from": "2026-09-20", "to": "2026-09-07"}, "query.to"),
            ({"from": "2026-01-01", "to": "2027-01-02"}, "query.to"),
            ({"to": "2026-09-07"}, "query.from"),
            ({"from": "2026-09-07", "to": "yesterday"}, "query.to"),
            ({"from": "2026-09-07", "to": "2026-09-20", "group_by": "client"}, "query.group_by"),
            (
                {
                    "from": "2026-09-07",
                    "to": "2026-09-20",
                    "under_threshold": 90,
                    "over_threshold": 80,
                },
                "query.under_threshold",
            ),
            ({"from": "2026-09-07", "to": "2026-09-20", "status": "lost"}, "query.status.0"),
        ],
    )
    async def test_bad_parameters_are_refused(
        self,
        time_api: httpx.AsyncClient,
        agency: Caller,
        params: dict[str, Any],
        field: str,
    ) -> None:
        response = await time_api.get(
            "/v1/reports/utilization", params=params, headers=agency.headers
        )
        assert_invalid_fields(response, field)
