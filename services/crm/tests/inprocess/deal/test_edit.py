"""Deals after creation: the probability (the stage's until the deal has its own), editing
(only the fields sent; assignees and templates checked against the stand-ins) and deleting."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from agencyos.testing.deals import (
    create_deal,
    get_deal,
    moved,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess
from agencyos.testing.sql import fetch_rows


def create_template(in_process: InProcess, who: Caller) -> str:
    """The id of a new project template of `who`'s agency, declared on work's stand-in."""
    return str(in_process.standins.work.add_template(who.agency_id))


async def timeline_rows(
    crm_service: ServiceInProcess, who: Caller, client_id: str
) -> list[asyncpg.Record]:
    return await fetch_rows(
        crm_service.infra,
        crm_service.database,
        "SELECT kind, title, body, data, actor_id, source_event_id FROM timeline_entries "
        "WHERE client_id = $1 ORDER BY occurred_at, created_at",
        uuid.UUID(client_id),
        tenant_id=who.agency_id,
        owner=True,
    )


async def outbox_events(crm_service: ServiceInProcess, who: Caller) -> list[dict[str, Any]]:
    """The events the service wrote to its outbox for `who`'s agency, in order."""
    return await crm_service.outbox(who.agency_id)


class TestProbability:
    async def test_the_stage_probability_applies_until_the_deal_has_its_own(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        plain = await create_deal(crm, agency, client, value_cents=10_000)
        own = await create_deal(crm, agency, client, value_cents=10_000, probability=55)

        plain_moved = await moved(crm, agency, plain["id"], stage="proposal")
        own_moved = await moved(crm, agency, own["id"], stage="proposal")

        assert (plain["probability"], plain_moved["probability"]) == (10, 40)
        assert (own["probability"], own_moved["probability"]) == (55, 55)
        assert own_moved["probability_override"] == 55
        assert own_moved["weighted_value_cents"] == 5_500

    async def test_clearing_the_override_lets_the_stage_apply_again(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client, probability=90)

        response = await crm.patch(
            f"/v1/deals/{deal['id']}", json={"probability": None}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert (response.json()["probability"], response.json()["probability_override"]) == (
            10,
            None,
        )

    async def test_a_won_deal_is_certain_whatever_its_override(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client, probability=30)

        won = await moved(crm, agency, deal["id"], stage="won")
        reopened = await moved(crm, agency, deal["id"], stage="lead")

        assert (won["probability"], won["probability_override"]) == (100, 30)
        assert reopened["probability"] == 30


# --- editing and deleting -----------------------------------------------------------------------


class TestEditAndDelete:
    async def test_patch_changes_only_the_fields_sent(
        self,
        in_process: InProcess,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")
        deal = await create_deal(crm, agency, client, description="keep me")
        template_id = create_template(in_process, agency)

        response = await crm.patch(
            f"/v1/deals/{deal['id']}",
            json={
                "title": "Renamed",
                "value_cents": 77_700,
                "currency": "CHF",
                "expected_close_date": "2027-05-05",
                "assigned_to": str(member.user_id),
                "template_id": template_id,
            },
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated == {
            **deal,
            "title": "Renamed",
            "value_cents": 77_700,
            "weighted_value_cents": 7_770,
            "currency": "CHF",
            "expected_close_date": "2027-05-05",
            "assigned_to": str(member.user_id),
            "template_id": template_id,
            "updated_at": updated["updated_at"],
        }

    async def test_null_clears_optional_fields(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(
            crm, agency, client, description="x", expected_close_date="2027-01-01"
        )

        response = await crm.patch(
            f"/v1/deals/{deal['id']}",
            json={"description": None, "expected_close_date": None, "assigned_to": None},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["description"], body["expected_close_date"], body["assigned_to"]) == (
            None,
            None,
            None,
        )

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({"title": None}, "title", id="null-title"),
            pytest.param({"title": " "}, "title", id="blank-title"),
            pytest.param({"value_cents": None}, "value_cents", id="null-value"),
            pytest.param({"value_cents": -1}, "value_cents", id="negative-value"),
            pytest.param({"currency": "eur"}, "currency", id="lower-currency"),
            pytest.param({"currency": "XXX"}, "currency", id="not-an-iso-currency"),
            pytest.param({"probability": 101}, "probability", id="probability-above-100"),
            pytest.param({"stage": "won"}, "stage", id="the-stage-moves-elsewhere"),
            pytest.param({"assigned_to": str(uuid.uuid4())}, "assigned_to", id="not-a-member"),
        ],
    )
    async def test_bad_edits_are_a_422_naming_the_field(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        deal = await create_deal(crm, agency, client)

        response = await crm.patch(f"/v1/deals/{deal['id']}", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)
        assert await get_deal(crm, agency, deal["id"]) == deal

    async def test_a_deleted_deal_is_gone(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        deleted = await crm.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)
        again = await crm.get(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        assert_problem(again, 404, "not-found")
