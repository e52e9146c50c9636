"""Billing against hostile input, through the gateway: strict money and date fields, and
negative (credit) line prices, which the API allows and documents."""

from __future__ import annotations

import json

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_invalid_fields, assert_problem, send_json
from agencyos.testing.invoicing import new_books
from agencyos.testing.platform import Platform


class TestLines:
    async def test_a_negative_line_is_a_credit_that_lowers_the_total_and_the_api_says_so(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        invoice = await books.manual_draft(10_000, -2_500)
        spec = (await gateway.get("/openapi.json")).json()
        line_schema = spec["components"]["schemas"]["LineCreate"]["properties"]["unit_price_cents"]

        credited_to_zero = await books.manual_draft(1_000, -1_000)

        assert [line["amount_cents"] for line in invoice["lines"]] == [10_000, -2_500]
        assert invoice["subtotal_cents"] == 7_500
        assert "Negative prices are allowed" in json.dumps(line_schema)
        assert "credit" in json.dumps(line_schema)
        # a credit may not take the invoice to zero or below: such a draft is never sent
        assert credited_to_zero["total_cents"] == 0
        assert_problem(await books.send(credited_to_zero["id"]), 409, "invoice-not-sendable")
        for price in ("12", True, 12.5, 2**64, -(2**64)):
            response = await send_json(
                gateway,
                agency.headers,
                "POST",
                f"/v1/invoices/{invoice['id']}/lines",
                {"description": "Item", "quantity": "1", "unit_price_cents": price},
            )
            assert_invalid_fields(response, "unit_price_cents")


class TestDates:
    async def test_a_period_that_is_not_an_iso_date_is_422(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)

        for value in ("0", 0, "20260101"):
            response = await books.create(include=[], period_from=value)
            assert_invalid_fields(response, "period_from")
        listed = await gateway.get(
            "/v1/invoices", params={"issue_from": "0"}, headers=agency.headers
        )
        assert_invalid_fields(listed, "query.issue_from")
