"""Reading deals through the gateway: the kanban board's order, the list with its filters, and
the forecast."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import (
    board,
    column,
    create_client,
    create_deal,
    default_pipeline,
    list_deals,
    move,
    moved,
    stage_id,
)
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.platform import Platform

# --- kanban -------------------------------------------------------------------------------------


class TestKanban:
    async def test_new_deals_go_to_the_bottom_of_their_column(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(gateway, agency, client, title=title)

        assert column(await board(gateway, agency), "lead") == ["A", "B", "C"]

    async def test_before_after_and_position_place_the_deal(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deals = {t: await create_deal(gateway, agency, client, title=t) for t in "ABC"}
        d = await create_deal(gateway, agency, client, title="D", stage="proposal")

        await moved(gateway, agency, deals["C"]["id"], stage="lead", before_id=deals["A"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "A", "B"]
        await moved(gateway, agency, deals["A"]["id"], stage="lead", after_id=deals["B"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "B", "A"]
        await moved(gateway, agency, d["id"], stage="lead", after_id=deals["C"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "D", "B", "A"]
        await moved(gateway, agency, deals["A"]["id"], stage="lead", position=0)
        assert column(await board(gateway, agency), "lead") == ["A", "C", "D", "B"]
        await moved(gateway, agency, deals["C"]["id"], stage="lead", position=2)
        assert column(await board(gateway, agency), "lead") == ["A", "D", "C", "B"]
        await moved(gateway, agency, deals["A"]["id"], stage="proposal", position=99)
        view = await board(gateway, agency)
        assert column(view, "lead") == ["D", "C", "B"]
        assert column(view, "proposal") == ["A"]

    async def test_a_move_rewrites_only_the_moving_deals_position(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deals = [await create_deal(gateway, agency, client, title=t) for t in "ABC"]
        before = {
            d["title"]: d["position"] for d in (await board(gateway, agency))["stages"][0]["deals"]
        }

        await moved(gateway, agency, deals[2]["id"], stage="lead", after_id=deals[0]["id"])

        after = {
            d["title"]: d["position"] for d in (await board(gateway, agency))["stages"][0]["deals"]
        }
        assert after["A"] == before["A"]
        assert after["B"] == before["B"]
        assert before["A"] < after["C"] < before["B"]

    async def test_many_moves_into_one_gap_keep_the_order_when_the_column_is_renumbered(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        top = await create_deal(gateway, agency, client, title="top")
        await create_deal(gateway, agency, client, title="bottom")
        expected = ["top"]
        # Each deal goes right below "top", halving the gap every time: past ~30 halvings the
        # gap is too small and the column is renumbered.
        for i in range(36):
            deal = await create_deal(gateway, agency, client, title=f"n{i:02d}")
            await moved(gateway, agency, deal["id"], stage="lead", after_id=top["id"])
            expected.insert(1, f"n{i:02d}")
        expected.append("bottom")

        view = await board(gateway, agency)

        assert column(view, "lead") == expected
        positions = [d["position"] for d in view["stages"][0]["deals"]]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    async def test_concurrent_creations_and_crossing_moves_all_land_in_distinct_places(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        created = await asyncio.gather(
            *(
                gateway.post(
                    "/v1/deals",
                    json={"title": f"c{i}", "client_id": client["id"], "stage": stage},
                    headers=agency.headers,
                )
                for i, stage in enumerate(["lead", "proposal"] * 4)
            )
        )
        assert [r.status_code for r in created] == [201] * 8, [r.text for r in created]
        deals = [r.json() for r in created]

        # Every lead deal goes to the top of proposal and every proposal deal to the top of
        # lead, all at once: the two columns' locks are taken in one order by every mover.
        answers = await asyncio.gather(
            *(
                move(
                    gateway,
                    agency,
                    d["id"],
                    stage="proposal" if d["stage_name"] == "lead" else "lead",
                    position=0,
                )
                for d in deals
            )
        )

        assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
        view = await board(gateway, agency)
        for name in ("lead", "proposal"):
            stage = next(s for s in view["stages"] if s["name"] == name)
            positions = [d["position"] for d in stage["deals"]]
            assert len(positions) == 4
            assert len(set(positions)) == 4
            assert positions == sorted(positions)

    async def test_the_board_lists_stages_in_order_with_counts_and_values_per_currency(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        await create_deal(gateway, agency, client, title="e1", value_cents=1_000)
        await create_deal(gateway, agency, client, title="e2", value_cents=2_500)
        await create_deal(gateway, agency, client, title="u1", value_cents=700, currency="USD")
        p = await create_deal(gateway, agency, client, title="p1", value_cents=5, stage="proposal")
        await moved(gateway, agency, p["id"], stage="won")

        view = await board(gateway, agency)

        pipeline = await default_pipeline(gateway, agency)
        assert view["pipeline"] == {
            "id": pipeline["id"],
            "name": "Sales",
            "is_default": True,
        }
        summary = [
            (s["name"], s["kind"], s["probability"], s["count"], s["totals"])
            for s in view["stages"]
        ]
        assert summary == [
            (
                "lead",
                "open",
                10,
                3,
                [
                    {"currency": "EUR", "count": 2, "value_cents": 3_500},
                    {"currency": "USD", "count": 1, "value_cents": 700},
                ],
            ),
            ("proposal", "open", 40, 0, []),
            ("negotiation", "open", 70, 0, []),
            ("won", "won", 100, 1, [{"currency": "EUR", "count": 1, "value_cents": 5}]),
            ("lost", "lost", 0, 0, []),
        ]
        assert column(view, "won") == ["p1"]

    async def test_per_stage_limits_the_deals_shown_but_not_the_count(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(gateway, agency, client, title=title)

        view = await board(gateway, agency, per_stage=2)

        assert column(view, "lead") == ["A", "B"]
        assert view["stages"][0]["count"] == 3

    async def test_an_anchor_in_another_stage_is_a_422_naming_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        elsewhere = await create_deal(gateway, agency, client, stage="proposal")

        before = await move(gateway, agency, deal["id"], stage="lead", before_id=elsewhere["id"])
        after = await move(gateway, agency, deal["id"], stage="lead", after_id=deal["id"])

        assert_invalid_fields(before, "before_id")
        assert_invalid_fields(after, "after_id")

    async def test_more_than_one_placement_is_a_422_naming_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        other = await create_deal(gateway, agency, client)

        response = await move(
            gateway, agency, deal["id"], stage="lead", before_id=other["id"], position=0
        )

        assert_invalid_fields(response, "position", "before_id")


# --- listing ------------------------------------------------------------------------------------


class TestList:
    async def test_filters_narrow_the_list(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        other_client = await create_client(gateway, agency, currency="EUR")
        a = await create_deal(
            gateway, agency, client, title="Alpha", expected_close_date="2027-01-10"
        )
        b = await create_deal(
            gateway,
            agency,
            other_client,
            title="Beta",
            stage="proposal",
            assigned_to=str(member.user_id),
            expected_close_date="2027-02-10",
        )
        c = await create_deal(gateway, agency, client, title="Gamma")
        await moved(gateway, agency, c["id"], stage="won")
        pipeline = await default_pipeline(gateway, agency)

        def ids(page: dict[str, Any]) -> set[str]:
            return {d["id"] for d in page["items"]}

        assert ids(await list_deals(gateway, agency, stage="proposal")) == {b["id"]}
        assert ids(await list_deals(gateway, agency, stage=stage_id(pipeline, "lead"))) == {a["id"]}
        assert ids(await list_deals(gateway, agency, status="won")) == {c["id"]}
        assert ids(await list_deals(gateway, agency, status="open")) == {a["id"], b["id"]}
        assert ids(await list_deals(gateway, agency, assigned_to=str(member.user_id))) == {b["id"]}
        assert ids(await list_deals(gateway, agency, client_id=client["id"])) == {a["id"], c["id"]}
        assert ids(await list_deals(gateway, agency, pipeline_id=pipeline["id"])) == {
            a["id"],
            b["id"],
            c["id"],
        }
        assert ids(await list_deals(gateway, agency, q="ETA")) == {b["id"]}
        close_range = await list_deals(
            gateway,
            agency,
            date_field="expected_close_date",
            **{"from": "2027-01-01", "to": "2027-01-31"},
        )
        assert ids(close_range) == {a["id"]}
        created_days = {"from": a["created_at"][:10], "to": c["created_at"][:10]}
        assert ids(await list_deals(gateway, agency, **created_days)) == {a["id"], b["id"], c["id"]}
        assert ids(await list_deals(gateway, agency, **{"to": "2000-01-01"})) == set()

    async def test_sorting_and_paging(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title, value in (("b", 300), ("a", 100), ("c", 200)):
            await create_deal(gateway, agency, client, title=title, value_cents=value)

        by_value = await list_deals(gateway, agency, sort="-value_cents")
        by_title = await list_deals(gateway, agency, sort="title", per_page=2, page=2)
        newest = await list_deals(gateway, agency)

        assert [d["title"] for d in by_value["items"]] == ["b", "c", "a"]
        assert [d["title"] for d in by_title["items"]] == ["c"]
        assert (by_title["total"], by_title["page"], by_title["per_page"]) == (3, 2, 2)
        assert [d["title"] for d in newest["items"]] == ["c", "a", "b"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({"status": "pending"}, "query.status", id="unknown-status"),
            pytest.param({"sort": "colour"}, "query.sort", id="unknown-sort"),
            pytest.param({"from": "yesterday"}, "query.from", id="bad-date"),
            pytest.param(
                {"from": "2027-02-01", "to": "2027-01-01"}, "query.from", id="from-after-to"
            ),
            pytest.param({"assigned_to": "bob"}, "query.assigned_to", id="bad-assignee"),
            pytest.param({"per_page": 500}, "query.per_page", id="too-many-per-page"),
        ],
    )
    async def test_bad_parameters_are_a_422_naming_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession, params: dict[str, Any], field: str
    ) -> None:
        response = await gateway.get("/v1/deals", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)


# --- forecast -----------------------------------------------------------------------------------


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
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> dict[str, str]:
        manager = await add_member(platform, gateway, agency, "manager")
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
            await create_deal(gateway, agency, client, **fields)
        won = await create_deal(
            gateway, agency, client, value_cents=7_777, expected_close_date="2027-01-10"
        )
        await moved(gateway, agency, won["id"], stage="won")
        lost = await create_deal(
            gateway, agency, client, value_cents=4_444, expected_close_date="2027-01-10"
        )
        await moved(gateway, agency, lost["id"], stage="lost", lost_reason="No budget")
        pipeline = await default_pipeline(gateway, agency)
        return {"owner": owner, "manager": mgr, **{s["name"]: s["id"] for s in pipeline["stages"]}}

    async def forecast(
        self, gateway: httpx.AsyncClient, who: AgencySession, **params: Any
    ) -> dict[str, Any]:
        response = await gateway.get("/v1/deals/forecast", params=params, headers=who.headers)
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
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="month")

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
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="stage")

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
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="owner")

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
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(
            gateway, agency, group_by="month", **{"from": "2027-01-01", "to": "2027-01-31"}
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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
        setup: dict[str, str],
    ) -> None:
        created = await gateway.post(
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
        await create_deal(gateway, agency, client, pipeline_id=other["id"], value_cents=1_001)

        only_other = await self.forecast(gateway, agency, group_by="stage", pipeline_id=other["id"])
        everything = await self.forecast(gateway, agency, group_by="stage")

        assert self.rows(only_other) == [(other["stages"][0]["id"], "EUR", 1, 1_001, 330)]
        assert everything["totals"][0]["count"] == 7

    async def test_an_agency_without_deals_has_an_empty_forecast(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="owner")

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
        self, gateway: httpx.AsyncClient, agency: AgencySession, params: dict[str, Any], field: str
    ) -> None:
        response = await gateway.get("/v1/deals/forecast", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)
