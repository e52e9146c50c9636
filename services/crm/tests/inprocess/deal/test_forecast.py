"""The forecast: open deals' values and weighted values (half up per deal, then summed) by
month, stage or owner, per currency, narrowed by dates or pipeline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_deal, default_pipeline, moved
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Agency, Caller


class TestForecast:
    """Hand-computed: weighted = value x probability / 100, half up per deal, then summed.

    | deal | value  | cur | stage       | p  | weighted       | close      | owner   |
    |------|--------|-----|-------------|----|----------------|------------|---------|
    | d1   | 10 005 | EUR | lead        | 10 | 1 000.5 -> 1001 | 2027-01-15 | owner   |
    | d2   |  3 333 | EUR | proposal    | 40 | 1 333.2 -> 1333 | 2027-01-31 | owner   |
    | d3   |    999 | EUR | negotiation | 55*|  549.45 -> 549  | 2027-02-10 | manager |
    | d4   | 20 001 | USD | proposal    | 40 | 8 000.4 -> 8000 | 2027-01-05 | manager |
    | d5   |  5 000 | EUR | lead        | 10 |    500         | —          | nobody  |
    | d6   |    150 | USD | lead        |  5*|    7.5 -> 8     | 2027-02-01 | owner   |
    | d7   |      5 | EUR | lead        | 10 |    0.5 -> 1     | 2027-03-01 | owner   |
    | d8   |      5 | EUR | lead        | 10 |    0.5 -> 1     | 2027-03-20 | owner   |
    | won  |  7 777 | EUR | won         |    | (not open)     | 2027-01-10 | owner   |
    | lost |  4 444 | EUR | lost        |    | (not open)     | 2027-01-10 | owner   |
    (* the deal's own probability). d7 + d8: rounded per deal 2, not round(1.0) = 1.
    """

    @pytest.fixture
    async def setup(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> dict[str, str]:
        manager = tenant.caller("manager")
        owner, mgr = str(agency.user_id), str(manager.user_id)
        rows: list[dict[str, Any]] = [
            dict(value_cents=10_005, stage="lead", expected_close_date="2027-01-15"),
            dict(value_cents=3_333, stage="proposal", expected_close_date="2027-01-31"),
            dict(
                value_cents=999,
                stage="negotiation",
                probability=55,
                expected_close_date="2027-02-10",
                assigned_to=mgr,
            ),
            dict(
                value_cents=20_001,
                currency="USD",
                stage="proposal",
                expected_close_date="2027-01-05",
                assigned_to=mgr,
            ),
            dict(value_cents=5_000, stage="lead", assigned_to=None),
            dict(value_cents=150, currency="USD", probability=5, expected_close_date="2027-02-01"),
            dict(value_cents=5, expected_close_date="2027-03-01"),
            dict(value_cents=5, expected_close_date="2027-03-20"),
        ]
        for fields in rows:
            await create_deal(crm, agency, client, **fields)
        won = await create_deal(
            crm, agency, client, value_cents=7_777, expected_close_date="2027-01-10"
        )
        await moved(crm, agency, won["id"], stage="won")
        lost = await create_deal(
            crm, agency, client, value_cents=4_444, expected_close_date="2027-01-10"
        )
        await moved(crm, agency, lost["id"], stage="lost", lost_reason="No budget")
        pipeline = await default_pipeline(crm, agency)
        return {"owner": owner, "manager": mgr, **{s["name"]: s["id"] for s in pipeline["stages"]}}

    async def forecast(self, crm: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
        response = await crm.get("/v1/deals/forecast", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (g["key"], g["currency"], g["count"], g["value_cents"], g["weighted_value_cents"])
            for g in body["groups"]
        ]

    TOTALS = [
        {"currency": "EUR", "count": 6, "value_cents": 19_347, "weighted_value_cents": 3_385},
        {"currency": "USD", "count": 2, "value_cents": 20_151, "weighted_value_cents": 8_008},
    ]

    async def test_by_month(
        self, crm: httpx.AsyncClient, agency: Caller, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(crm, agency, group_by="month")

        assert body["group_by"] == "month"
        assert "half-up per deal" in body["rounding"]
        assert self.rows(body) == [
            ("2027-01", "EUR", 2, 13_338, 2_334),
            ("2027-01", "USD", 1, 20_001, 8_000),
            ("2027-02", "EUR", 1, 999, 549),
            ("2027-02", "USD", 1, 150, 8),
            ("2027-03", "EUR", 2, 10, 2),
            (None, "EUR", 1, 5_000, 500),
        ]
        assert body["totals"] == self.TOTALS

    async def test_by_stage(
        self, crm: httpx.AsyncClient, agency: Caller, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(crm, agency, group_by="stage")

        assert self.rows(body) == [
            (setup["lead"], "EUR", 4, 15_015, 1_503),
            (setup["lead"], "USD", 1, 150, 8),
            (setup["proposal"], "EUR", 1, 3_333, 1_333),
            (setup["proposal"], "USD", 1, 20_001, 8_000),
            (setup["negotiation"], "EUR", 1, 999, 549),
        ]
        assert [g["label"] for g in body["groups"]] == [
            "lead",
            "lead",
            "proposal",
            "proposal",
            "negotiation",
        ]
        assert body["totals"] == self.TOTALS

    async def test_by_owner(
        self, crm: httpx.AsyncClient, agency: Caller, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(crm, agency, group_by="owner")

        by_owner = {(k, c): (n, v, w) for k, c, n, v, w in self.rows(body)}
        assert by_owner == {
            (setup["owner"], "EUR"): (4, 13_348, 2_336),
            (setup["owner"], "USD"): (1, 150, 8),
            (setup["manager"], "EUR"): (1, 999, 549),
            (setup["manager"], "USD"): (1, 20_001, 8_000),
            (None, "EUR"): (1, 5_000, 500),
        }
        assert self.rows(body)[-1][0] is None  # unassigned last
        assert body["totals"] == self.TOTALS

    async def test_a_date_range_keeps_deals_closing_in_it(
        self, crm: httpx.AsyncClient, agency: Caller, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(
            crm, agency, group_by="month", **{"from": "2027-01-01", "to": "2027-01-31"}
        )

        assert self.rows(body) == [
            ("2027-01", "EUR", 2, 13_338, 2_334),
            ("2027-01", "USD", 1, 20_001, 8_000),
        ]
        assert body["totals"] == [
            {"currency": "EUR", "count": 2, "value_cents": 13_338, "weighted_value_cents": 2_334},
            {"currency": "USD", "count": 1, "value_cents": 20_001, "weighted_value_cents": 8_000},
        ]

    async def test_a_pipeline_filter_keeps_that_pipelines_deals(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
        setup: dict[str, str],
    ) -> None:
        created = await crm.post(
            "/v1/pipelines",
            json={
                "name": "Retainers",
                "stages": [
                    {"name": "Intro", "probability": 33},
                    {"name": "Signed", "kind": "won"},
                    {"name": "Declined", "kind": "lost"},
                ],
            },
            headers=agency.headers,
        )
        other = created.json()
        await create_deal(crm, agency, client, pipeline_id=other["id"], value_cents=1_001)

        only_other = await self.forecast(crm, agency, group_by="stage", pipeline_id=other["id"])
        everything = await self.forecast(crm, agency, group_by="stage")

        assert self.rows(only_other) == [(other["stages"][0]["id"], "EUR", 1, 1_001, 330)]
        assert everything["totals"][0]["count"] == 7

    async def test_an_agency_without_deals_has_an_empty_forecast(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = await self.forecast(crm, agency, group_by="owner")

        assert (body["groups"], body["totals"]) == ([], [])

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({}, "query.group_by", id="no-group-by"),
            pytest.param({"group_by": "week"}, "query.group_by", id="unknown-group-by"),
            pytest.param({"group_by": "month", "to": "x"}, "query.to", id="bad-date"),
        ],
    )
    async def test_bad_parameters_are_a_422_naming_them(
        self, crm: httpx.AsyncClient, agency: Caller, params: dict[str, Any], field: str
    ) -> None:
        response = await crm.get("/v1/deals/forecast", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)
