"""Billing settings' text fields against hostile input: NUL characters, and an address keeps
its lines where a tax number is one line."""

from __future__ import annotations

import httpx

from agencyos.testing.http import assert_invalid_fields, send_json
from agencyos.testing.inprocess import Caller


class TestSettingsText:
    async def test_a_nul_in_the_footer_address_or_tax_number_is_422_naming_it(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        for field in ("invoice_footer", "sender_address", "tax_number"):
            response = await send_json(
                billing, agency.headers, "PUT", "/v1/billing-settings", {field: "x\x00y"}
            )
            assert_invalid_fields(response, field)

    async def test_an_address_keeps_its_lines_but_a_tax_number_is_one_line(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        address = "Northwind Studio\nMain St 1\n10115 Berlin"
        kept = await send_json(
            billing, agency.headers, "PUT", "/v1/billing-settings", {"sender_address": address}
        )
        refused = await send_json(
            billing, agency.headers, "PUT", "/v1/billing-settings", {"tax_number": "DE 123\n456"}
        )

        assert kept.status_code == 200, kept.text
        assert kept.json()["sender_address"] == address
        assert_invalid_fields(refused, "tax_number")
