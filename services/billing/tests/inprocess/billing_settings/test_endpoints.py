"""Billing settings: defaults until saved, partial changes, validation, who may read and
change them, and each agency's own."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

URL = "/v1/billing-settings"
DEFAULTS = {
    "payment_terms_days": 30,
    "reminder_offsets_days": [-3, 1, 7],
    "sender_address": None,
    "tax_number": None,
    "invoice_footer": None,
    "updated_at": None,
}


async def read(billing: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await billing.get(URL, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def save(billing: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    response = await billing.put(URL, json=fields, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def without_time(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "updated_at"}


class TestReadingAndSaving:
    async def test_an_agency_that_never_saved_reads_the_defaults(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        assert await read(billing, agency) == DEFAULTS

    async def test_saving_changes_only_the_fields_sent(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        saved = await save(
            billing,
            agency,
            payment_terms_days=14,
            reminder_offsets_days=[14, -5, 0],
            sender_address="  Northwind Studio GmbH\nTorstr. 1\n10119 Berlin  ",
            tax_number="DE123456789",
        )

        assert without_time(saved) == {
            "payment_terms_days": 14,
            "reminder_offsets_days": [-5, 0, 14],
            "sender_address": "Northwind Studio GmbH\nTorstr. 1\n10119 Berlin",
            "tax_number": "DE123456789",
            "invoice_footer": None,
        }
        assert saved["updated_at"] is not None

        again = await save(billing, agency, invoice_footer="Thank you!")
        assert without_time(again) == {**without_time(saved), "invoice_footer": "Thank you!"}
        assert await read(billing, agency) == again

    async def test_texts_are_cleared_with_null_or_an_empty_string(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        await save(billing, agency, tax_number="DE1", invoice_footer="Footer", sender_address="A")

        cleared = await save(
            billing, agency, tax_number=None, invoice_footer="", sender_address="  "
        )

        assert (cleared["tax_number"], cleared["invoice_footer"], cleared["sender_address"]) == (
            None,
            None,
            None,
        )

    async def test_no_reminders_at_all_is_a_setting(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        assert (await save(billing, agency, reminder_offsets_days=[]))[
            "reminder_offsets_days"
        ] == []

    async def test_terms_and_offsets_at_their_limits_are_accepted(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        saved = await save(billing, agency, payment_terms_days=0, reminder_offsets_days=[-60, 180])
        assert saved["payment_terms_days"] == 0
        assert (await save(billing, agency, payment_terms_days=365))["payment_terms_days"] == 365

    async def test_each_agency_has_its_own(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        await save(billing, agency, payment_terms_days=7, tax_number="OURS")

        assert await read(billing, other_agency) == DEFAULTS


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "bad"),
        [
            ({"payment_terms_days": 366}, "payment_terms_days"),
            ({"payment_terms_days": -1}, "payment_terms_days"),
            ({"payment_terms_days": "30"}, "payment_terms_days"),
            ({"payment_terms_days": 30.0}, "payment_terms_days"),
            ({"payment_terms_days": None}, "payment_terms_days"),
            ({"reminder_offsets_days": [1, 1]}, "reminder_offsets_days"),
            ({"reminder_offsets_days": [-61]}, "reminder_offsets_days.0"),
            ({"reminder_offsets_days": [0, 181]}, "reminder_offsets_days.1"),
            ({"reminder_offsets_days": ["3"]}, "reminder_offsets_days.0"),
            ({"reminder_offsets_days": list(range(11))}, "reminder_offsets_days"),
            ({"reminder_offsets_days": None}, "reminder_offsets_days"),
            ({"reminder_offsets_days": 3}, "reminder_offsets_days"),
            ({"tax_number": "x" * 51}, "tax_number"),
            ({"sender_address": "x" * 1001}, "sender_address"),
            ({"invoice_footer": "x" * 2001}, "invoice_footer"),
            ({"currency": "EUR"}, "currency"),
        ],
    )
    async def test_bad_values_are_a_422_naming_the_field(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        fields: dict[str, Any],
        bad: str,
    ) -> None:
        response = await billing.put(URL, json=fields, headers=agency.headers)

        assert_invalid_fields(response, bad)
        assert await read(billing, agency) == DEFAULTS

    async def test_a_body_that_is_not_an_object_is_422(
        self, billing: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await billing.put(URL, json=[1, 2], headers=agency.headers)
        assert_problem(response, 422, "invalid-input")


class TestWhoMay:
    async def test_a_manager_reads_them_but_may_not_change_them(
        self, billing: httpx.AsyncClient, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")

        assert await read(billing, manager) == DEFAULTS
        response = await billing.put(URL, json={"payment_terms_days": 1}, headers=manager.headers)
        assert_problem(response, 403, "permission-denied")
        assert await read(billing, tenant.owner) == DEFAULTS

    async def test_an_admin_may_change_them(
        self, billing: httpx.AsyncClient, tenant: Agency
    ) -> None:
        admin = tenant.caller("admin")

        assert (await save(billing, admin, payment_terms_days=10))["payment_terms_days"] == 10

    async def test_a_member_can_neither_read_nor_change_them(
        self, billing: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        assert_problem(await billing.get(URL, headers=member.headers), 403, "permission-denied")
        response = await billing.put(URL, json={"payment_terms_days": 1}, headers=member.headers)
        assert_problem(response, 403, "permission-denied")

    async def test_without_a_token_it_is_401(self, billing: httpx.AsyncClient) -> None:
        assert_problem(await billing.get(URL), 401)
        assert_problem(await billing.put(URL, json={"payment_terms_days": 1}), 401)
