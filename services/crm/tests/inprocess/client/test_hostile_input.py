"""Hostile strings: NUL and control characters in names, nested fields and query parameters
(a 422 naming the field, never a 500), line breaks kept where free text allows them, and an
Idempotency-Key of other than visible ASCII."""

from __future__ import annotations

import httpx

from agencyos.testing.http import assert_invalid_fields, send_json
from agencyos.testing.inprocess import Caller


class TestStrings:
    async def test_a_nul_in_a_company_name_is_422_naming_the_field(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await send_json(
            crm, agency.headers, "POST", "/v1/clients", {"company_name": "a\x00b"}
        )

        assert_invalid_fields(response, "company_name")

    async def test_a_nul_in_a_new_clients_notes_inside_a_deal_is_422_naming_the_nested_field(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = {"title": "Relaunch", "client": {"company_name": "Acme", "notes": "x\x00"}}

        response = await send_json(
            crm, agency.headers, "POST", "/v1/deals", {**body, "currency": "EUR"}
        )

        assert_invalid_fields(response, "client.notes")

    async def test_a_nul_in_a_search_or_filter_is_422_naming_the_parameter(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        for path, param in [
            ("/v1/clients", "q"),
            ("/v1/clients", "tag"),
            ("/v1/clients/export", "industry"),
            ("/v1/deals", "q"),
            ("/v1/deals", "stage"),
        ]:
            response = await crm.get(path, params={param: "\x00"}, headers=agency.headers)
            assert_invalid_fields(response, f"query.{param}")

    async def test_a_tab_or_line_break_in_a_one_line_name_is_422_but_notes_keep_them(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        tabbed = await send_json(
            crm, agency.headers, "POST", "/v1/clients", {"company_name": "Acme\tLtd"}
        )
        escaped = await send_json(
            crm, agency.headers, "POST", "/v1/clients", {"company_name": "Acme\x1bLtd"}
        )
        notes = "Call Monday.\r\n\tBring the\tcontract."
        kept = await send_json(
            crm, agency.headers, "POST", "/v1/clients", {"company_name": "Acme", "notes": notes}
        )

        assert_invalid_fields(tabbed, "company_name")
        assert_invalid_fields(escaped, "company_name")
        assert kept.status_code == 201, kept.text
        assert kept.json()["notes"] == notes

    async def test_an_idempotency_key_of_other_than_visible_ascii_is_422(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/clients",
            json={"company_name": "Acme"},
            headers={**agency.headers, "Idempotency-Key": "two words"},
        )

        body = assert_invalid_fields(response, "Idempotency-Key")
        assert "visible ASCII" in body["detail"]
