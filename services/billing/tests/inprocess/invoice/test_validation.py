"""Invoices against bad and hostile input: 422 problems naming the field for bad creation
bodies, unknown clients and foreign projects, bad lines and an invoice total past its bound,
strict money and date fields, and negative (credit) line prices, which the API allows and
documents."""

from __future__ import annotations

import json
import uuid

import httpx

from agencyos.testing.http import assert_invalid_fields, assert_problem, send_json
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.invoicing import Books


class TestValidation:
    async def test_bad_fields_are_named(self, books: Books) -> None:
        assert_invalid_fields(await books.create(include=["hours"]), "include.0")
        assert_invalid_fields(await books.create(group_by="client"), "group_by")
        assert_invalid_fields(await books.create(due_in_days=400), "due_in_days")
        assert_invalid_fields(await books.create(currency="euro"), "currency")
        assert_invalid_fields(await books.create(currency="XXX"), "currency")
        assert_invalid_fields(await books.create(tax_rate_bps=10_001), "tax_rate_bps")
        assert_invalid_fields(
            await books.create(period_from="2026-11-30", period_to="2026-11-01"), "period_to"
        )
        assert_invalid_fields(await books.create(surprise=1), "surprise")
        missing = await books.gateway.post(
            "/v1/invoices", json={"include": []}, headers=books.agency.headers
        )
        assert_invalid_fields(missing, "client_id")

    async def test_unknown_client_and_foreign_projects(
        self, in_process: InProcess, books: Books, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        unknown = await billing.post(
            "/v1/invoices", json={"client_id": str(uuid.uuid4())}, headers=agency.headers
        )
        assert_invalid_fields(unknown, "client_id")
        elsewhere = in_process.standins.work.add_project(
            agency.agency_id, agency.user_id, currency="EUR"
        )
        foreign = await books.create(project_ids=[str(elsewhere)])
        assert_invalid_fields(foreign, "project_ids")

    async def test_bad_lines(self, books: Books) -> None:
        invoice = await books.draft(include=[])
        url = f"/v1/invoices/{invoice['id']}/lines"
        headers = books.agency.headers
        for body, field in [
            ({"description": "x", "quantity": 0, "unit_price_cents": 1}, "quantity"),
            ({"description": "x", "quantity": "1.00001", "unit_price_cents": 1}, "quantity"),
            ({"description": "", "quantity": 1, "unit_price_cents": 1}, "description"),
            ({"description": "x", "quantity": 1, "unit_price_cents": 10**11}, "unit_price_cents"),
            ({"description": "x", "quantity": 1, "unit_price_cents": "5"}, "unit_price_cents"),
            (
                {"description": "x", "quantity": 1, "unit_price_cents": 1, "tax_rate_bps": -1},
                "tax_rate_bps",
            ),
        ]:
            assert_invalid_fields(await books.gateway.post(url, json=body, headers=headers), field)
        # each line fits, but the invoice's total may not run past 10**15 minor units
        huge = {"description": "x", "quantity": "99999999", "unit_price_cents": 10**10}
        assert_invalid_fields(
            await books.gateway.post(url, json=huge, headers=headers), "unit_price_cents"
        )
        still = await books.gateway.get(f"/v1/invoices/{invoice['id']}", headers=headers)
        assert still.json()["lines"] == []
        unknown_line = await books.gateway.patch(
            f"{url}/{uuid.uuid4()}", json={"description": "y"}, headers=headers
        )
        assert_problem(unknown_line, 404)


class TestLines:
    async def test_a_negative_line_is_a_credit_that_lowers_the_total_and_the_api_says_so(
        self, billing: httpx.AsyncClient, agency: Caller, books: Books
    ) -> None:
        invoice = await books.manual_draft(10_000, -2_500)
        spec = (await billing.get("/openapi.json")).json()
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
                billing,
                agency.headers,
                "POST",
                f"/v1/invoices/{invoice['id']}/lines",
                {"description": "Item", "quantity": "1", "unit_price_cents": price},
            )
            assert_invalid_fields(response, "unit_price_cents")


class TestDates:
    async def test_a_period_that_is_not_an_iso_date_is_422(
        self, billing: httpx.AsyncClient, agency: Caller, books: Books
    ) -> None:

        for value in ("0", 0, "20260101"):
            response = await books.create(include=[], period_from=value)
            assert_invalid_fields(response, "period_from")
        listed = await billing.get(
            "/v1/invoices", params={"issue_from": "0"}, headers=agency.headers
        )
        assert_invalid_fields(listed, "query.issue_from")
