"""Deals against hostile input: integers past any column, numbers and dates sent as the wrong
JSON type, and another agency's (or an unknown) project template, as declared on work's
stand-in."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.deals import create_deal, get_deal, move
from agencyos.testing.http import assert_invalid_fields, send_json
from agencyos.testing.inprocess import Caller, InProcess


def create_template(in_process: InProcess, who: Caller) -> str:
    """The id of a new project template of `who`'s agency, declared on work's stand-in."""
    return str(in_process.standins.work.add_template(who.agency_id))


class TestNumbersAndDates:
    async def test_a_position_past_any_column_is_422_not_a_500(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        for position in (2**64, 2**31, -1):
            response = await move(crm, agency, deal["id"], stage="lead", position=position)
            assert_invalid_fields(response, "position")

    async def test_value_cents_as_a_string_a_boolean_or_a_float_is_422(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for value in ("12", True, 12.0, 2**64):
            response = await send_json(
                crm,
                agency.headers,
                "POST",
                "/v1/deals",
                {"title": "D", "client_id": client["id"], "value_cents": value},
            )
            assert_invalid_fields(response, "value_cents")

    async def test_a_probability_as_a_string_is_422(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        response = await crm.patch(
            f"/v1/deals/{deal['id']}", json={"probability": "50"}, headers=agency.headers
        )

        assert_invalid_fields(response, "probability")

    async def test_a_close_date_that_is_not_an_iso_date_is_422(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for value in ("0", 0, "2026-1-5", "2026-01-05T00:00:00Z"):
            response = await send_json(
                crm,
                agency.headers,
                "POST",
                "/v1/deals",
                {"title": "D", "client_id": client["id"], "expected_close_date": value},
            )
            assert_invalid_fields(response, "expected_close_date")
        response = await crm.get("/v1/deals", params={"from": "0"}, headers=agency.headers)
        assert_invalid_fields(response, "query.from")


class TestDealTemplate:
    async def test_another_agencys_template_is_refused_on_create_and_update(
        self,
        in_process: InProcess,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        theirs = create_template(in_process, other_agency)
        ours = create_template(in_process, agency)

        refused = await crm.post(
            "/v1/deals",
            json={"title": "D", "client_id": client["id"], "template_id": theirs},
            headers=agency.headers,
        )
        deal = await create_deal(crm, agency, client, template_id=ours)
        changed = await crm.patch(
            f"/v1/deals/{deal['id']}", json={"template_id": theirs}, headers=agency.headers
        )

        assert_invalid_fields(refused, "template_id")
        assert deal["template_id"] == ours
        assert_invalid_fields(changed, "template_id")
        assert (await get_deal(crm, agency, deal["id"]))["template_id"] == ours

    async def test_an_unknown_template_is_refused_and_null_clears_it(
        self,
        in_process: InProcess,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(
            crm, agency, client, template_id=create_template(in_process, agency)
        )

        unknown = await crm.patch(
            f"/v1/deals/{deal['id']}",
            json={"template_id": str(uuid.uuid4())},
            headers=agency.headers,
        )
        cleared = await crm.patch(
            f"/v1/deals/{deal['id']}", json={"template_id": None}, headers=agency.headers
        )

        assert_invalid_fields(unknown, "template_id")
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["template_id"] is None
