"""Agency settings (`GET/PATCH /v1/agency`): who may read and change them, what is
validated, and the `identity.agency.updated` event identity writes to its outbox."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.http import assert_invalid_fields, assert_problem

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

SETTINGS = {
    "id",
    "slug",
    "name",
    "logo_url",
    "brand_color",
    "timezone",
    "currency",
    "invoice_prefix",
    "default_tax_rate_bps",
    "created_at",
}


async def get_agency(identity: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await identity.get("/v1/agency", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def patch_agency(
    identity: httpx.AsyncClient, who: AgencySession, **changes: Any
) -> httpx.Response:
    return await identity.patch("/v1/agency", json=changes, headers=who.headers)


class TestReadingSettings:
    async def test_a_member_reads_their_agency_with_the_defaults(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        body = await get_agency(identity, member)

        assert set(body) == SETTINGS
        assert body["id"] == str(agency.agency_id)
        assert body["slug"] == agency.slug
        assert body["currency"] == "USD"
        assert body["timezone"] == "UTC"
        assert body["invoice_prefix"] == "INV-"
        assert body["default_tax_rate_bps"] == 0
        assert body["logo_url"] is None
        assert body["brand_color"] is None

    async def test_each_agency_sees_only_its_own_settings(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        changed = await patch_agency(identity, other_agency, name="Their secret name")
        assert changed.status_code == 200, changed.text

        mine = await get_agency(identity, agency)
        theirs = await get_agency(identity, other_agency)

        assert mine["id"] == str(agency.agency_id)
        assert mine["name"] != "Their secret name"
        assert theirs["id"] == str(other_agency.agency_id)

    async def test_without_a_token_it_is_401(self, identity: httpx.AsyncClient) -> None:
        assert_problem(await identity.get("/v1/agency"), 401)


class TestChangingSettings:
    async def test_the_owner_changes_every_setting_and_it_is_persisted(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        slug = f"renamed-{uuid.uuid4().hex[:8]}"
        changes = {
            "name": "Renamed Studio",
            "slug": slug,
            "logo_url": "https://cdn.example.com/logo.png",
            "brand_color": "#1A73E8",
            "timezone": "Europe/Berlin",
            "currency": "EUR",
            "invoice_prefix": "NW-",
            "default_tax_rate_bps": 1900,
        }

        response = await patch_agency(identity, agency, **changes)

        assert response.status_code == 200, response.text
        assert {k: response.json()[k] for k in changes} == changes
        stored = await get_agency(identity, agency)
        assert {k: stored[k] for k in changes} == changes

    async def test_fields_left_out_stay_as_they_are(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await patch_agency(identity, agency, currency="GBP", brand_color="#000000")

        response = await patch_agency(identity, agency, timezone="Asia/Tokyo")

        body = response.json()
        assert (body["currency"], body["brand_color"], body["timezone"]) == (
            "GBP",
            "#000000",
            "Asia/Tokyo",
        )

    async def test_the_logo_and_brand_color_can_be_cleared_with_null(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await patch_agency(
            identity, agency, logo_url="https://cdn.example.com/a.png", brand_color="#ABCDEF"
        )

        response = await patch_agency(identity, agency, logo_url=None, brand_color=None)

        assert response.status_code == 200, response.text
        assert (response.json()["logo_url"], response.json()["brand_color"]) == (None, None)

    async def test_an_admin_may_change_them(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")

        response = await patch_agency(identity, admin, invoice_prefix="ADM-")

        assert response.status_code == 200, response.text
        assert (await get_agency(identity, agency))["invoice_prefix"] == "ADM-"

    @pytest.mark.parametrize("role", ["manager", "member"])
    async def test_a_role_without_agency_write_gets_403_and_nothing_changes(
        self, role: str, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        who = await add_member(agency, role)

        response = await patch_agency(identity, who, name="Hijacked")

        assert_problem(response, 403, "permission-denied")
        assert (await get_agency(identity, agency))["name"] != "Hijacked"

    async def test_a_client_user_cannot_even_read_them(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await add_member(agency, "client")

        assert_problem(await identity.get("/v1/agency", headers=client.headers), 403)

    async def test_a_patch_changes_only_the_callers_agency(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        before = await get_agency(identity, other_agency)

        await patch_agency(identity, agency, name="Only mine", currency="JPY")

        assert await get_agency(identity, other_agency) == before


class TestValidation:
    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("currency", "usd"),
            ("currency", "US"),
            ("currency", "ABC"),  # shaped right, but no such ISO 4217 currency
            ("currency", "XXX"),
            ("timezone", "Mars/Olympus_Mons"),
            ("timezone", "utc+2"),
            ("slug", "Upper-Case"),
            ("slug", "-leading-dash"),
            ("slug", "trailing-dash-"),
            ("slug", "a" * 64),
            ("logo_url", "http://cdn.example.com/logo.png"),
            ("logo_url", "not a url"),
            ("logo_url", "https://"),
            ("brand_color", "1A73E8"),
            ("brand_color", "#1A73E"),
            ("brand_color", "#GGGGGG"),
            ("default_tax_rate_bps", -1),
            ("default_tax_rate_bps", 10_001),
            ("default_tax_rate_bps", 12.5),
            ("default_tax_rate_bps", "1900"),
            ("invoice_prefix", ""),
            ("invoice_prefix", "X" * 21),
            ("name", ""),
            ("name", None),
            ("currency", None),
        ],
    )
    async def test_a_bad_value_is_a_422_naming_the_field_and_nothing_changes(
        self, field: str, value: Any, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        before = await get_agency(identity, agency)

        response = await patch_agency(identity, agency, **{field: value})

        assert_invalid_fields(response, field)
        assert await get_agency(identity, agency) == before

    async def test_an_unknown_field_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assert_invalid_fields(await patch_agency(identity, agency, id=str(uuid.uuid4())), "id")

    async def test_the_boundaries_of_the_tax_rate_are_allowed(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        for bps in (0, 10_000):
            response = await patch_agency(identity, agency, default_tax_rate_bps=bps)
            assert response.status_code == 200, response.text
            assert response.json()["default_tax_rate_bps"] == bps

    async def test_a_slug_taken_by_another_agency_is_409(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        response = await patch_agency(identity, agency, slug=other_agency.slug, name="Changed")

        assert_problem(response, 409, "conflict")
        after = await get_agency(identity, agency)
        assert after["slug"] == agency.slug
        assert after["name"] != "Changed"

    async def test_keeping_its_own_slug_is_not_a_conflict(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await patch_agency(identity, agency, slug=agency.slug)

        assert response.status_code == 200, response.text


class TestUpdatedEvent:
    async def test_a_change_writes_identity_agency_updated_with_the_changed_fields(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await signup_agency(identity)
        tenant = str(owner.agency_id)
        response = await patch_agency(
            identity, owner, currency="EUR", default_tax_rate_bps=2000, timezone="UTC"
        )
        assert response.status_code == 200, response.text

        (event,) = await outbox("identity.agency.updated", owner.agency_id)

        assert event["source"] == "/agencyos/identity"
        assert event["subject"] == f"agencies/{tenant}"
        assert event["dataschema"].endswith("identity.agency.updated/v1")
        data = event["data"]
        # The timezone was already UTC: not a change.
        assert data["changed_fields"] == ["currency", "default_tax_rate_bps"]
        assert data["agency_id"] == tenant
        assert (data["currency"], data["default_tax_rate_bps"]) == ("EUR", 2000)
        assert data["slug"] == owner.slug

    async def test_a_patch_that_changes_nothing_writes_nothing(
        self, identity: httpx.AsyncClient, outbox: Outbox
    ) -> None:
        owner = await signup_agency(identity)
        await patch_agency(identity, owner, currency="USD")  # already USD: no change
        await patch_agency(identity, owner, currency="CHF")  # a marker after it

        updates = await outbox("identity.agency.updated", owner.agency_id)

        assert [e["data"]["currency"] for e in updates] == ["CHF"]

    async def test_a_refused_change_writes_nothing(
        self, identity: httpx.AsyncClient, other_agency: AgencySession, outbox: Outbox
    ) -> None:
        owner = await signup_agency(identity)
        conflict = await patch_agency(identity, owner, slug=other_agency.slug, name="X")
        assert conflict.status_code == 409
        await patch_agency(identity, owner, invoice_prefix="MARK-")

        updates = await outbox("identity.agency.updated", owner.agency_id)

        assert [e["data"]["changed_fields"] for e in updates] == [["invoice_prefix"]]
