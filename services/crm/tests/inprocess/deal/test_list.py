"""Listing deals: the filters (stage, status, assignee, client, pipeline, search, date
ranges), sorting, paging, and bad parameters named in a 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.deals import (
    create_client,
    create_deal,
    default_pipeline,
    list_deals,
    moved,
    stage_id,
)
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Agency, Caller


class TestList:
    async def test_filters_narrow_the_list(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")
        other_client = await create_client(crm, agency, currency="EUR")
        a = await create_deal(crm, agency, client, title="Alpha", expected_close_date="2027-01-10")
        b = await create_deal(
            crm,
            agency,
            other_client,
            title="Beta",
            stage="proposal",
            assigned_to=str(member.user_id),
            expected_close_date="2027-02-10",
        )
        c = await create_deal(crm, agency, client, title="Gamma")
        await moved(crm, agency, c["id"], stage="won")
        pipeline = await default_pipeline(crm, agency)

        def ids(page: dict[str, Any]) -> set[str]:
            return {d["id"] for d in page["items"]}

        assert ids(await list_deals(crm, agency, stage="proposal")) == {b["id"]}
        assert ids(await list_deals(crm, agency, stage=stage_id(pipeline, "lead"))) == {a["id"]}
        assert ids(await list_deals(crm, agency, status="won")) == {c["id"]}
        assert ids(await list_deals(crm, agency, status="open")) == {a["id"], b["id"]}
        assert ids(await list_deals(crm, agency, assigned_to=str(member.user_id))) == {b["id"]}
        assert ids(await list_deals(crm, agency, client_id=client["id"])) == {a["id"], c["id"]}
        assert ids(await list_deals(crm, agency, pipeline_id=pipeline["id"])) == {
            a["id"],
            b["id"],
            c["id"],
        }
        assert ids(await list_deals(crm, agency, q="ETA")) == {b["id"]}
        close_range = await list_deals(
            crm,
            agency,
            date_field="expected_close_date",
            **{"from": "2027-01-01", "to": "2027-01-31"},
        )
        assert ids(close_range) == {a["id"]}
        created_days = {"from": a["created_at"][:10], "to": c["created_at"][:10]}
        assert ids(await list_deals(crm, agency, **created_days)) == {a["id"], b["id"], c["id"]}
        assert ids(await list_deals(crm, agency, **{"to": "2000-01-01"})) == set()

    async def test_sorting_and_paging(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for title, value in (("b", 300), ("a", 100), ("c", 200)):
            await create_deal(crm, agency, client, title=title, value_cents=value)

        by_value = await list_deals(crm, agency, sort="-value_cents")
        by_title = await list_deals(crm, agency, sort="title", per_page=2, page=2)
        newest = await list_deals(crm, agency)

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
        self, crm: httpx.AsyncClient, agency: Caller, params: dict[str, Any], field: str
    ) -> None:
        response = await crm.get("/v1/deals", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)
