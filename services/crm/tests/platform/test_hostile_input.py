"""CRM against hostile input, through the gateway: NUL and control characters in strings and
query parameters, integers past any column, numbers and dates sent as the wrong JSON type,
another agency's project template on a deal, and who may export the client book."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.deals import create_deal, create_template, get_deal, move
from agencyos.testing.factories import AgencySession, add_member, refreshed
from agencyos.testing.http import assert_invalid_fields, assert_problem, send_json
from agencyos.testing.platform import Platform


class TestStrings:
    async def test_a_nul_in_a_company_name_is_422_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await send_json(
            gateway, agency.headers, "POST", "/v1/clients", {"company_name": "a\x00b"}
        )

        assert_invalid_fields(response, "company_name")

    async def test_a_nul_in_a_new_clients_notes_inside_a_deal_is_422_naming_the_nested_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = {"title": "Relaunch", "client": {"company_name": "Acme", "notes": "x\x00"}}

        response = await send_json(
            gateway, agency.headers, "POST", "/v1/deals", {**body, "currency": "EUR"}
        )

        assert_invalid_fields(response, "client.notes")

    async def test_a_nul_in_a_search_or_filter_is_422_naming_the_parameter(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        for path, param in [
            ("/v1/clients", "q"),
            ("/v1/clients", "tag"),
            ("/v1/clients/export", "industry"),
            ("/v1/deals", "q"),
            ("/v1/deals", "stage"),
        ]:
            response = await gateway.get(path, params={param: "\x00"}, headers=agency.headers)
            assert_invalid_fields(response, f"query.{param}")

    async def test_a_tab_or_line_break_in_a_one_line_name_is_422_but_notes_keep_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        tabbed = await send_json(
            gateway, agency.headers, "POST", "/v1/clients", {"company_name": "Acme\tLtd"}
        )
        escaped = await send_json(
            gateway, agency.headers, "POST", "/v1/clients", {"company_name": "Acme\x1bLtd"}
        )
        notes = "Call Monday.\r\n\tBring the\tcontract."
        kept = await send_json(
            gateway, agency.headers, "POST", "/v1/clients", {"company_name": "Acme", "notes": notes}
        )

        assert_invalid_fields(tabbed, "company_name")
        assert_invalid_fields(escaped, "company_name")
        assert kept.status_code == 201, kept.text
        assert kept.json()["notes"] == notes

    async def test_an_idempotency_key_of_other_than_visible_ascii_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/clients",
            json={"company_name": "Acme"},
            headers={**agency.headers, "Idempotency-Key": "two words"},
        )

        body = assert_invalid_fields(response, "Idempotency-Key")
        assert "visible ASCII" in body["detail"]


class TestNumbersAndDates:
    async def test_a_position_past_any_column_is_422_not_a_500(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        for position in (2**64, 2**31, -1):
            response = await move(gateway, agency, deal["id"], stage="lead", position=position)
            assert_invalid_fields(response, "position")

    async def test_value_cents_as_a_string_a_boolean_or_a_float_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for value in ("12", True, 12.0, 2**64):
            response = await send_json(
                gateway,
                agency.headers,
                "POST",
                "/v1/deals",
                {"title": "D", "client_id": client["id"], "value_cents": value},
            )
            assert_invalid_fields(response, "value_cents")

    async def test_a_probability_as_a_string_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        response = await gateway.patch(
            f"/v1/deals/{deal['id']}", json={"probability": "50"}, headers=agency.headers
        )

        assert_invalid_fields(response, "probability")

    async def test_a_close_date_that_is_not_an_iso_date_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for value in ("0", 0, "2026-1-5", "2026-01-05T00:00:00Z"):
            response = await send_json(
                gateway,
                agency.headers,
                "POST",
                "/v1/deals",
                {"title": "D", "client_id": client["id"], "expected_close_date": value},
            )
            assert_invalid_fields(response, "expected_close_date")
        response = await gateway.get("/v1/deals", params={"from": "0"}, headers=agency.headers)
        assert_invalid_fields(response, "query.from")


class TestDealTemplate:
    async def test_another_agencys_template_is_refused_on_create_and_update(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        theirs = await create_template(gateway, other_agency)
        ours = await create_template(gateway, agency)

        refused = await gateway.post(
            "/v1/deals",
            json={"title": "D", "client_id": client["id"], "template_id": theirs},
            headers=agency.headers,
        )
        deal = await create_deal(gateway, agency, client, template_id=ours)
        changed = await gateway.patch(
            f"/v1/deals/{deal['id']}", json={"template_id": theirs}, headers=agency.headers
        )

        assert_invalid_fields(refused, "template_id")
        assert deal["template_id"] == ours
        assert_invalid_fields(changed, "template_id")
        assert (await get_deal(gateway, agency, deal["id"]))["template_id"] == ours

    async def test_an_unknown_template_is_refused_and_null_clears_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(
            gateway, agency, client, template_id=await create_template(gateway, agency)
        )

        unknown = await gateway.patch(
            f"/v1/deals/{deal['id']}",
            json={"template_id": str(uuid.uuid4())},
            headers=agency.headers,
        )
        cleared = await gateway.patch(
            f"/v1/deals/{deal['id']}", json={"template_id": None}, headers=agency.headers
        )

        assert_invalid_fields(unknown, "template_id")
        assert cleared.status_code == 200, cleared.text
        assert cleared.json()["template_id"] is None


class TestExportPermission:
    async def test_a_member_may_not_export_the_client_book_but_a_manager_may(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        manager = await add_member(platform, gateway, agency, "manager")

        refused = await gateway.get("/v1/clients/export", headers=member.headers)
        listed = await gateway.get("/v1/clients", headers=member.headers)
        exported = await gateway.get("/v1/clients/export", headers=manager.headers)

        assert_problem(refused, 403)
        assert "clients.export" in refused.json()["detail"]
        assert listed.status_code == 200, listed.text
        assert exported.status_code == 200, exported.text
        assert exported.text.startswith("company_name,")

    async def test_an_owner_can_grant_a_member_the_export(
        self, gateway: httpx.AsyncClient, platform: Platform, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        granted = await gateway.put(
            f"/v1/members/{member.user_id}/permissions",
            json={"granted": ["clients.export"], "revoked": []},
            headers=agency.headers,
        )
        assert granted.status_code == 200, granted.text

        member = await refreshed(gateway, member)
        response = await gateway.get("/v1/clients/export", headers=member.headers)

        assert response.status_code == 200, response.text
