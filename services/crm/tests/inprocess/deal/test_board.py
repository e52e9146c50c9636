"""The kanban board: where new and moved deals land in a column (before, after or at a
position; only the moving deal's position rewritten; a column renumbered when a gap runs
out; concurrent moves each landing in a place of their own), and each stage's count and
totals per currency."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from agencyos.testing.deals import board, column, create_deal, default_pipeline, move, moved
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller


class TestKanban:
    async def test_new_deals_go_to_the_bottom_of_their_column(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(crm, agency, client, title=title)

        assert column(await board(crm, agency), "lead") == ["A", "B", "C"]

    async def test_before_after_and_position_place_the_deal(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deals = {t: await create_deal(crm, agency, client, title=t) for t in "ABC"}
        d = await create_deal(crm, agency, client, title="D", stage="proposal")

        await moved(crm, agency, deals["C"]["id"], stage="lead", before_id=deals["A"]["id"])
        assert column(await board(crm, agency), "lead") == ["C", "A", "B"]
        await moved(crm, agency, deals["A"]["id"], stage="lead", after_id=deals["B"]["id"])
        assert column(await board(crm, agency), "lead") == ["C", "B", "A"]
        await moved(crm, agency, d["id"], stage="lead", after_id=deals["C"]["id"])
        assert column(await board(crm, agency), "lead") == ["C", "D", "B", "A"]
        await moved(crm, agency, deals["A"]["id"], stage="lead", position=0)
        assert column(await board(crm, agency), "lead") == ["A", "C", "D", "B"]
        await moved(crm, agency, deals["C"]["id"], stage="lead", position=2)
        assert column(await board(crm, agency), "lead") == ["A", "D", "C", "B"]
        await moved(crm, agency, deals["A"]["id"], stage="proposal", position=99)
        view = await board(crm, agency)
        assert column(view, "lead") == ["D", "C", "B"]
        assert column(view, "proposal") == ["A"]

    async def test_a_move_rewrites_only_the_moving_deals_position(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deals = [await create_deal(crm, agency, client, title=t) for t in "ABC"]
        before = {
            d["title"]: d["position"] for d in (await board(crm, agency))["stages"][0]["deals"]
        }

        await moved(crm, agency, deals[2]["id"], stage="lead", after_id=deals[0]["id"])

        after = {
            d["title"]: d["position"] for d in (await board(crm, agency))["stages"][0]["deals"]
        }
        assert after["A"] == before["A"]
        assert after["B"] == before["B"]
        assert before["A"] < after["C"] < before["B"]

    async def test_many_moves_into_one_gap_keep_the_order_when_the_column_is_renumbered(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        top = await create_deal(crm, agency, client, title="top")
        await create_deal(crm, agency, client, title="bottom")
        expected = ["top"]
        # Each deal goes right below "top", halving the gap every time: past ~30 halvings the
        # gap is too small and the column is renumbered.
        for i in range(36):
            deal = await create_deal(crm, agency, client, title=f"n{i:02d}")
            await moved(crm, agency, deal["id"], stage="lead", after_id=top["id"])
            expected.insert(1, f"n{i:02d}")
        expected.append("bottom")

        view = await board(crm, agency)

        assert column(view, "lead") == expected
        positions = [d["position"] for d in view["stages"][0]["deals"]]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    async def test_concurrent_creations_and_crossing_moves_all_land_in_distinct_places(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        created = await asyncio.gather(
            *(
                crm.post(
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
                    crm,
                    agency,
                    d["id"],
                    stage="proposal" if d["stage_name"] == "lead" else "lead",
                    position=0,
                )
                for d in deals
            )
        )

        assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
        view = await board(crm, agency)
        for name in ("lead", "proposal"):
            stage = next(s for s in view["stages"] if s["name"] == name)
            positions = [d["position"] for d in stage["deals"]]
            assert len(positions) == 4
            assert len(set(positions)) == 4
            assert positions == sorted(positions)

    async def test_the_board_lists_stages_in_order_with_counts_and_values_per_currency(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        await create_deal(crm, agency, client, title="e1", value_cents=1_000)
        await create_deal(crm, agency, client, title="e2", value_cents=2_500)
        await create_deal(crm, agency, client, title="u1", value_cents=700, currency="USD")
        p = await create_deal(crm, agency, client, title="p1", value_cents=5, stage="proposal")
        await moved(crm, agency, p["id"], stage="won")

        view = await board(crm, agency)

        pipeline = await default_pipeline(crm, agency)
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
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(crm, agency, client, title=title)

        view = await board(crm, agency, per_stage=2)

        assert column(view, "lead") == ["A", "B"]
        assert view["stages"][0]["count"] == 3

    async def test_an_anchor_in_another_stage_is_a_422_naming_it(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)
        elsewhere = await create_deal(crm, agency, client, stage="proposal")

        before = await move(crm, agency, deal["id"], stage="lead", before_id=elsewhere["id"])
        after = await move(crm, agency, deal["id"], stage="lead", after_id=deal["id"])

        assert_invalid_fields(before, "before_id")
        assert_invalid_fields(after, "after_id")

    async def test_more_than_one_placement_is_a_422_naming_them(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)
        other = await create_deal(crm, agency, client)

        response = await move(
            crm, agency, deal["id"], stage="lead", before_id=other["id"], position=0
        )

        assert_invalid_fields(response, "position", "before_id")
