"""Creating deals (for an existing or a new client) and their validation; assignees must be
active members (identity's stand-in), templates the agency's own (work's stand-in)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from agencyos.testing.deals import (
    create_client,
    create_deal,
    default_pipeline,
    get_deal,
    list_deals,
    move,
    stage_id,
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


# --- creating -----------------------------------------------------------------------------------


class TestCreateForAnExistingClient:
    async def test_a_deal_starts_in_the_first_open_stage_of_the_default_pipeline(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={
                "title": "  Website relaunch ",
                "client_id": client["id"],
                "value_cents": 1_250_000,
                "expected_close_date": "2027-01-15",
                "description": "Redesign and CMS migration",
            },
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        deal = response.json()
        pipeline = await default_pipeline(crm, agency)
        assert response.headers["location"] == f"/v1/deals/{deal['id']}"
        assert deal["title"] == "Website relaunch"
        assert deal["pipeline_id"] == pipeline["id"]
        assert deal["stage_id"] == stage_id(pipeline, "lead")
        assert (deal["stage_name"], deal["status"]) == ("lead", "open")
        assert (deal["client_id"], deal["client_name"]) == (client["id"], client["company_name"])
        assert (deal["value_cents"], deal["currency"]) == (1_250_000, "EUR")
        assert (deal["probability"], deal["probability_override"]) == (10, None)
        assert deal["weighted_value_cents"] == 125_000
        assert deal["expected_close_date"] == "2027-01-15"
        assert deal["assigned_to"] == str(agency.user_id)
        assert deal["created_by"] == str(agency.user_id)
        assert deal["description"] == "Redesign and CMS migration"
        for empty in ("template_id", "project_id", "lost_reason", "closed_at"):
            assert deal[empty] is None
        assert await get_deal(crm, agency, deal["id"]) == deal

    async def test_the_stage_may_be_named_or_given_by_id(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        by_name = await create_deal(crm, agency, client, stage="Negotiation")
        by_id = await create_deal(crm, agency, client, stage=stage_id(pipeline, "proposal"))

        assert (by_name["stage_name"], by_name["probability"]) == ("negotiation", 70)
        assert (by_id["stage_name"], by_id["probability"]) == ("proposal", 40)

    async def test_a_deal_can_go_to_another_pipeline(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        created = await crm.post(
            "/v1/pipelines",
            json={
                "name": "Retainers",
                "stages": [
                    {"name": "Intro", "probability": 25},
                    {"name": "Signed", "kind": "won"},
                    {"name": "Declined", "kind": "lost"},
                ],
            },
            headers=agency.headers,
        )
        pipeline = created.json()

        deal = await create_deal(crm, agency, client, pipeline_id=pipeline["id"])

        assert deal["pipeline_id"] == pipeline["id"]
        assert (deal["stage_name"], deal["probability"]) == ("Intro", 25)

    async def test_the_currency_defaults_to_the_clients_and_may_differ_from_it(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        defaulted = await create_deal(crm, agency, client)
        explicit = await create_deal(crm, agency, client, currency="USD")

        assert defaulted["currency"] == "EUR"
        assert explicit["currency"] == "USD"

    async def test_without_a_client_currency_the_currency_is_required(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        no_currency = await create_client(crm, agency)

        response = await crm.post(
            "/v1/deals",
            json={"title": "No money", "client_id": no_currency["id"]},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "currency")

    async def test_another_member_may_be_assigned_and_nobody_when_null(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")

        assigned = await create_deal(crm, agency, client, assigned_to=str(member.user_id))
        nobody = await create_deal(crm, agency, client, assigned_to=None)

        assert assigned["assigned_to"] == str(member.user_id)
        assert nobody["assigned_to"] is None

    @pytest.mark.parametrize("whose", ["another-agencys-user", "no-such-user"])
    async def test_an_assignee_who_is_not_a_member_is_a_422_naming_assigned_to(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
        whose: str,
    ) -> None:
        user_id = other_agency.user_id if whose == "another-agencys-user" else uuid.uuid4()

        response = await crm.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "assigned_to": str(user_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "assigned_to")
        assert (await list_deals(crm, agency))["total"] == 0

    async def test_creating_a_deal_writes_a_timeline_entry_for_the_client(
        self,
        crm_service: ServiceInProcess,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client, title="Audit", value_cents=50_000)

        rows = await timeline_rows(crm_service, agency, client["id"])

        assert [r["kind"] for r in rows] == ["deal_created"]
        assert rows[0]["title"] == "Deal Audit created in lead (EUR 500.00)"
        assert rows[0]["actor_id"] == agency.user_id
        assert json.loads(rows[0]["data"]) == {
            "deal_id": deal["id"],
            "stage_id": deal["stage_id"],
            "stage": "lead",
            "value_cents": 50_000,
            "currency": "EUR",
        }

    @pytest.mark.parametrize(
        ("currency", "value_cents", "shown"),
        [
            pytest.param("JPY", 50_000, "JPY 50,000", id="yen-has-no-minor-unit"),
            pytest.param("KWD", 50_000, "KWD 50.000", id="dinar-has-three-decimals"),
        ],
    )
    async def test_the_timeline_shows_the_value_in_the_currencys_own_decimals(
        self,
        crm_service: ServiceInProcess,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
        currency: str,
        value_cents: int,
        shown: str,
    ) -> None:
        await create_deal(
            crm, agency, client, title="Audit", value_cents=value_cents, currency=currency
        )

        rows = await timeline_rows(crm_service, agency, client["id"])

        assert rows[0]["title"] == f"Deal Audit created in lead ({shown})"

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_a_deal_cannot_start_in_a_closed_stage(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any], stage: str
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "stage": stage},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage")

    async def test_a_stage_name_the_pipeline_lacks_is_a_422_naming_stage(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "stage": "maybe later"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage")

    async def test_a_stage_of_another_pipeline_is_a_422_naming_stage(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        other = await crm.post(
            "/v1/pipelines",
            json={
                "name": "Other",
                "stages": [
                    {"name": "Intro", "probability": 25},
                    {"name": "Signed", "kind": "won"},
                    {"name": "Declined", "kind": "lost"},
                ],
            },
            headers=agency.headers,
        )

        response = await crm.post(
            "/v1/deals",
            json={
                "title": "x",
                "client_id": client["id"],
                "stage": other.json()["stages"][0]["id"],
            },
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage")


class TestCreateWithANewClient:
    async def test_the_client_is_created_with_the_deal(
        self,
        crm_service: ServiceInProcess,
        crm: httpx.AsyncClient,
        agency: Caller,
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={
                "title": "Brand refresh",
                "client": {"company_name": "Globex Ltd", "currency": "GBP", "industry": "Media"},
                "value_cents": 800_000,
            },
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        deal = response.json()
        assert deal["client_name"] == "Globex Ltd"
        assert deal["currency"] == "GBP"
        made = await crm.get(f"/v1/clients/{deal['client_id']}", headers=agency.headers)
        assert made.status_code == 200, made.text
        assert (made.json()["company_name"], made.json()["industry"]) == ("Globex Ltd", "Media")
        events = await outbox_events(crm_service, agency)
        created = [e for e in events if e["type"] == "crm.client.created"]
        assert [e["data"]["company_name"] for e in created] == ["Globex Ltd"]

    async def test_a_bad_client_field_is_a_422_naming_it_under_client_and_creates_nothing(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={"title": "x", "client": {"company_name": " "}, "currency": "EUR"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "client.company_name")
        clients = await crm.get("/v1/clients", headers=agency.headers)
        assert clients.json()["total"] == 0

    async def test_a_refused_deal_does_not_leave_its_new_client_behind(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={"title": "x", "client": {"company_name": "Ghost Inc"}, "stage": "nowhere"},
            headers=agency.headers,
        )

        assert_problem(response, 422, "invalid-input")
        clients = await crm.get("/v1/clients", headers=agency.headers)
        assert clients.json()["total"] == 0

    async def test_a_new_clients_owner_who_is_not_a_member_is_named_under_client(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/deals",
            json={
                "title": "x",
                "currency": "EUR",
                "client": {"company_name": "Owned", "owner_id": str(uuid.uuid4())},
            },
            headers=agency.headers,
        )

        assert_invalid_fields(response, "client.owner_id")

    @pytest.mark.parametrize("case", ["neither", "both"])
    async def test_exactly_one_of_client_id_and_client_is_required(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any], case: str
    ) -> None:
        body: dict[str, Any] = {"title": "x", "currency": "EUR"}
        if case == "both":
            body |= {"client_id": client["id"], "client": {"company_name": "Also"}}

        response = await crm.post("/v1/deals", json=body, headers=agency.headers)

        assert_invalid_fields(response, "client_id", "client")


# --- validation ---------------------------------------------------------------------------------


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({"title": ""}, "title", id="empty-title"),
            pytest.param({"title": "x" * 201}, "title", id="long-title"),
            pytest.param({"value_cents": -5}, "value_cents", id="negative-value"),
            pytest.param({"value_cents": "lots"}, "value_cents", id="value-not-a-number"),
            pytest.param({"currency": "EURO"}, "currency", id="long-currency"),
            pytest.param({"currency": "XXX"}, "currency", id="not-an-iso-currency"),
            pytest.param({"probability": -1}, "probability", id="negative-probability"),
            pytest.param({"expected_close_date": "soon"}, "expected_close_date", id="bad-date"),
            pytest.param({"assigned_to": "bob"}, "assigned_to", id="bad-assignee"),
            pytest.param({"pipeline_id": "x"}, "pipeline_id", id="bad-pipeline-id"),
            pytest.param({"stage": ""}, "stage", id="empty-stage"),
            pytest.param({"client_id": "x"}, "client_id", id="bad-client-id"),
            pytest.param({"tenant_id": str(uuid.uuid4())}, "tenant_id", id="unknown-field"),
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        full = {"title": "Fine", "client_id": client["id"], **body}

        response = await crm.post("/v1/deals", json=full, headers=agency.headers)

        assert_invalid_fields(response, field)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({}, "stage", id="no-stage"),
            pytest.param({"stage": "lead", "position": -1}, "position", id="negative-position"),
            pytest.param({"stage": "lead", "before_id": "x"}, "before_id", id="bad-before-id"),
            pytest.param({"stage": "lead", "colour": "red"}, "colour", id="unknown-field"),
        ],
    )
    async def test_a_bad_move_is_a_422_naming_the_field(
        self,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        deal = await create_deal(crm, agency, client)

        response = await move(crm, agency, deal["id"], **body)

        assert_invalid_fields(response, field)

    async def test_a_deal_id_that_is_not_a_uuid_is_a_422(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get("/v1/deals/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.deal_id")
