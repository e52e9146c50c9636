"""CRM deals through the gateway against the running platform: creating deals (for an existing
or a new client), the stage state machine and its events on `crm.events`, kanban order, the
forecast, work's `work.project.created` linking a project, permissions, tenant isolation and
gRPC GetDeal."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.events import CloudEvent, ProjectCreated, build_event
from agencyos.common.testing.factories import AgencySession, add_member
from agencyos.common.testing.http import assert_invalid_fields, assert_problem
from agencyos.common.testing.infra import wait_for
from agencyos.common.testing.kafka import (
    Record,
    TopicWriter,
    events_where,
    read_topic,
    topic_writer,
)
from agencyos.common.testing.platform import Platform
from agencyos.common.testing.sql import fetch_rows
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc

# --- helpers ------------------------------------------------------------------------------------


async def create_client(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_deal(
    gateway: httpx.AsyncClient, who: AgencySession, client: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deal {uuid.uuid4().hex[:6]}", "client_id": client["id"], **fields}
    if "currency" not in body and not client.get("currency"):
        body["currency"] = "EUR"
    response = await gateway.post("/v1/deals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def get_deal(gateway: httpx.AsyncClient, who: AgencySession, deal_id: str) -> dict[str, Any]:
    response = await gateway.get(f"/v1/deals/{deal_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    deal: dict[str, Any] = response.json()
    return deal


async def move(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: str, **body: Any
) -> httpx.Response:
    return await gateway.put(f"/v1/deals/{deal_id}/stage", json=body, headers=who.headers)


async def moved(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: str, **body: Any
) -> dict[str, Any]:
    response = await move(gateway, who, deal_id, **body)
    assert response.status_code == 200, response.text
    deal: dict[str, Any] = response.json()
    return deal


async def default_pipeline(gateway: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await gateway.get("/v1/pipelines", headers=who.headers)
    assert response.status_code == 200, response.text
    pipeline: dict[str, Any] = next(p for p in response.json()["items"] if p["is_default"])
    return pipeline


def stage_id(pipeline: dict[str, Any], name: str) -> str:
    return str(next(s["id"] for s in pipeline["stages"] if s["name"] == name))


async def board(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> dict[str, Any]:
    response = await gateway.get("/v1/deals/board", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def column(board_view: dict[str, Any], name: str) -> list[str]:
    stage = next(s for s in board_view["stages"] if s["name"] == name)
    return [d["title"] for d in stage["deals"]]


async def list_deals(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    response = await gateway.get("/v1/deals", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def crm_events(
    platform: Platform, who: AgencySession, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The agency's events on crm.events, read until `until(events)` holds."""
    tenant = str(who.agency_id)

    def ours(records: list[Record]) -> list[dict[str, Any]]:
        return events_where(records, tenantid=tenant)

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        f"{platform.topic_prefix}crm.events",
        lambda records: until(ours(records)),
        timeout=30,
    )
    return ours(records)


def about(events: list[dict[str, Any]], deal_id: str, type_: str | None = None) -> list[Any]:
    return [
        e
        for e in events
        if e["data"].get("deal_id") == deal_id and (type_ is None or e["type"] == type_)
    ]


async def timeline_rows(platform: Platform, who: AgencySession, client_id: str) -> list[Any]:
    return await fetch_rows(
        platform.infra,
        platform.database("crm"),
        "SELECT kind, title, body, data, actor_id, source_event_id FROM timeline_entries "
        "WHERE client_id = $1 ORDER BY occurred_at, created_at",
        uuid.UUID(client_id),
        tenant_id=who.agency_id,
        owner=True,
    )


@pytest.fixture
async def writer(platform: Platform) -> AsyncIterator[TopicWriter]:
    async with topic_writer(platform.infra.kafka_bootstrap) as started:
        yield started


@pytest.fixture
async def client(gateway: httpx.AsyncClient, agency: AgencySession) -> dict[str, Any]:
    return await create_client(gateway, agency, currency="EUR")


# --- creating -----------------------------------------------------------------------------------


class TestCreateForAnExistingClient:
    async def test_a_deal_starts_in_the_first_open_stage_of_the_default_pipeline(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        response = await gateway.post(
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
        pipeline = await default_pipeline(gateway, agency)
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
        assert await get_deal(gateway, agency, deal["id"]) == deal

    async def test_the_stage_may_be_named_or_given_by_id(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        by_name = await create_deal(gateway, agency, client, stage="Negotiation")
        by_id = await create_deal(gateway, agency, client, stage=stage_id(pipeline, "proposal"))

        assert (by_name["stage_name"], by_name["probability"]) == ("negotiation", 70)
        assert (by_id["stage_name"], by_id["probability"]) == ("proposal", 40)

    async def test_a_deal_can_go_to_another_pipeline(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        created = await gateway.post(
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

        deal = await create_deal(gateway, agency, client, pipeline_id=pipeline["id"])

        assert deal["pipeline_id"] == pipeline["id"]
        assert (deal["stage_name"], deal["probability"]) == ("Intro", 25)

    async def test_the_currency_defaults_to_the_clients_and_may_differ_from_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        defaulted = await create_deal(gateway, agency, client)
        explicit = await create_deal(gateway, agency, client, currency="USD")

        assert defaulted["currency"] == "EUR"
        assert explicit["currency"] == "USD"

    async def test_without_a_client_currency_the_currency_is_required(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        no_currency = await create_client(gateway, agency)

        response = await gateway.post(
            "/v1/deals",
            json={"title": "No money", "client_id": no_currency["id"]},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "currency")

    async def test_another_member_may_be_assigned_and_nobody_when_null(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        assigned = await create_deal(gateway, agency, client, assigned_to=str(member.user_id))
        nobody = await create_deal(gateway, agency, client, assigned_to=None)

        assert assigned["assigned_to"] == str(member.user_id)
        assert nobody["assigned_to"] is None

    @pytest.mark.parametrize("whose", ["another-agencys-user", "no-such-user"])
    async def test_an_assignee_who_is_not_a_member_is_a_422_naming_assigned_to(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
        whose: str,
    ) -> None:
        user_id = other_agency.user_id if whose == "another-agencys-user" else uuid.uuid4()

        response = await gateway.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "assigned_to": str(user_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "assigned_to")
        assert (await list_deals(gateway, agency))["total"] == 0

    async def test_creating_a_deal_writes_a_timeline_entry_for_the_client(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client, title="Audit", value_cents=50_000)

        rows = await timeline_rows(platform, agency, client["id"])

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

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_a_deal_cannot_start_in_a_closed_stage(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any], stage: str
    ) -> None:
        response = await gateway.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "stage": stage},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage")

    async def test_a_stage_name_the_pipeline_lacks_is_a_422_naming_stage(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        response = await gateway.post(
            "/v1/deals",
            json={"title": "x", "client_id": client["id"], "stage": "maybe later"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage")

    async def test_a_stage_of_another_pipeline_is_a_422_naming_stage(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        other = await gateway.post(
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

        response = await gateway.post(
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
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        response = await gateway.post(
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
        made = await gateway.get(f"/v1/clients/{deal['client_id']}", headers=agency.headers)
        assert made.status_code == 200, made.text
        assert (made.json()["company_name"], made.json()["industry"]) == ("Globex Ltd", "Media")
        events = await crm_events(
            platform,
            agency,
            lambda es: any(e["data"].get("client_id") == deal["client_id"] for e in es),
        )
        created = [e for e in events if e["type"] == "crm.client.created"]
        assert [e["data"]["company_name"] for e in created] == ["Globex Ltd"]

    async def test_a_bad_client_field_is_a_422_naming_it_under_client_and_creates_nothing(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/deals",
            json={"title": "x", "client": {"company_name": " "}, "currency": "EUR"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "client.company_name")
        clients = await gateway.get("/v1/clients", headers=agency.headers)
        assert clients.json()["total"] == 0

    async def test_a_refused_deal_does_not_leave_its_new_client_behind(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/deals",
            json={"title": "x", "client": {"company_name": "Ghost Inc"}, "stage": "nowhere"},
            headers=agency.headers,
        )

        assert_problem(response, 422, "invalid-input")
        clients = await gateway.get("/v1/clients", headers=agency.headers)
        assert clients.json()["total"] == 0

    async def test_a_new_clients_owner_who_is_not_a_member_is_named_under_client(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
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
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any], case: str
    ) -> None:
        body: dict[str, Any] = {"title": "x", "currency": "EUR"}
        if case == "both":
            body |= {"client_id": client["id"], "client": {"company_name": "Also"}}

        response = await gateway.post("/v1/deals", json=body, headers=agency.headers)

        assert_invalid_fields(response, "client_id", "client")


class TestProbability:
    async def test_the_stage_probability_applies_until_the_deal_has_its_own(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        plain = await create_deal(gateway, agency, client, value_cents=10_000)
        own = await create_deal(gateway, agency, client, value_cents=10_000, probability=55)

        plain_moved = await moved(gateway, agency, plain["id"], stage="proposal")
        own_moved = await moved(gateway, agency, own["id"], stage="proposal")

        assert (plain["probability"], plain_moved["probability"]) == (10, 40)
        assert (own["probability"], own_moved["probability"]) == (55, 55)
        assert own_moved["probability_override"] == 55
        assert own_moved["weighted_value_cents"] == 5_500

    async def test_clearing_the_override_lets_the_stage_apply_again(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client, probability=90)

        response = await gateway.patch(
            f"/v1/deals/{deal['id']}", json={"probability": None}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert (response.json()["probability"], response.json()["probability_override"]) == (
            10,
            None,
        )

    async def test_a_won_deal_is_certain_whatever_its_override(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client, probability=30)

        won = await moved(gateway, agency, deal["id"], stage="won")
        reopened = await moved(gateway, agency, deal["id"], stage="lead")

        assert (won["probability"], won["probability_override"]) == (100, 30)
        assert reopened["probability"] == 30


# --- moving -------------------------------------------------------------------------------------


class TestStageChanges:
    async def test_a_move_across_stages_publishes_stage_changed_and_notes_it(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client, value_cents=42_00)
        pipeline = await default_pipeline(gateway, agency)

        after = await moved(gateway, agency, deal["id"], stage="proposal")

        assert (after["stage_name"], after["stage_id"]) == (
            "proposal",
            stage_id(pipeline, "proposal"),
        )
        events = await crm_events(
            platform, agency, lambda es: bool(about(es, deal["id"], "crm.deal.stage_changed"))
        )
        (event,) = about(events, deal["id"])
        assert event["subject"] == f"deals/{deal['id']}"
        assert event["source"] == "/agencyos/crm"
        assert event["data"] == {
            "deal_id": deal["id"],
            "client_id": client["id"],
            "title": deal["title"],
            "pipeline_id": pipeline["id"],
            "from_stage_id": stage_id(pipeline, "lead"),
            "from_stage": "lead",
            "to_stage_id": stage_id(pipeline, "proposal"),
            "to_stage": "proposal",
            "to_stage_kind": "open",
            "value_cents": 4_200,
            "currency": "EUR",
            "changed_by": str(agency.user_id),
        }
        rows = await timeline_rows(platform, agency, client["id"])
        assert [r["kind"] for r in rows] == ["deal_created", "deal_stage_changed"]
        assert rows[1]["title"] == f"Deal {deal['title']} moved from lead to proposal"

    async def test_moving_to_won_closes_the_deal_and_publishes_won_with_what_work_needs(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        template_id = str(uuid.uuid4())
        deal = await create_deal(
            gateway,
            agency,
            client,
            title="Shop build",
            value_cents=2_500_000,
            description="Shopify build",
            template_id=template_id,
            expected_close_date="2027-03-01",
        )

        won = await moved(gateway, agency, deal["id"], stage="won")

        assert (won["status"], won["stage_name"]) == ("won", "won")
        assert won["closed_at"] is not None
        events = await crm_events(
            platform, agency, lambda es: bool(about(es, deal["id"], "crm.deal.won"))
        )
        assert [e["type"] for e in about(events, deal["id"])] == [
            "crm.deal.stage_changed",
            "crm.deal.won",
        ]
        (event,) = about(events, deal["id"], "crm.deal.won")
        data = event["data"]
        assert data == {
            **data,
            "deal_id": deal["id"],
            "title": "Shop build",
            "description": "Shopify build",
            "client_id": client["id"],
            "client_name": client["company_name"],
            "value_cents": 2_500_000,
            "currency": "EUR",
            "template_id": template_id,
            "assigned_to": str(agency.user_id),
            "expected_close_date": "2027-03-01",
            "won_by": str(agency.user_id),
        }
        assert data["won_at"]
        assert about(events, deal["id"], "crm.deal.stage_changed")[0]["data"]["to_stage_kind"] == (
            "won"
        )
        # (work may already have made the won deal's project: that entry is not ours to check)
        rows = await timeline_rows(platform, agency, client["id"])
        kinds = [r["kind"] for r in rows if r["kind"] != "project_created"]
        assert kinds == ["deal_created", "deal_won"]

    async def test_moving_to_lost_needs_a_reason(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        without = await move(gateway, agency, deal["id"], stage="lost")
        blank = await move(gateway, agency, deal["id"], stage="lost", lost_reason="  ")

        assert_invalid_fields(without, "lost_reason")
        assert_invalid_fields(blank, "lost_reason")
        assert (await get_deal(gateway, agency, deal["id"]))["status"] == "open"

    async def test_moving_to_lost_closes_the_deal_and_publishes_lost(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client, value_cents=9_900)

        lost = await moved(
            gateway, agency, deal["id"], stage="lost", lost_reason="Went with an in-house team"
        )

        assert (lost["status"], lost["lost_reason"]) == ("lost", "Went with an in-house team")
        assert lost["closed_at"] is not None
        events = await crm_events(
            platform, agency, lambda es: bool(about(es, deal["id"], "crm.deal.lost"))
        )
        (event,) = about(events, deal["id"], "crm.deal.lost")
        assert event["data"] == {
            **event["data"],
            "deal_id": deal["id"],
            "client_id": client["id"],
            "title": deal["title"],
            "value_cents": 9_900,
            "currency": "EUR",
            "lost_reason": "Went with an in-house team",
            "lost_by": str(agency.user_id),
        }
        assert not about(events, deal["id"], "crm.deal.won")
        rows = await timeline_rows(platform, agency, client["id"])
        assert [r["kind"] for r in rows] == ["deal_created", "deal_lost"]
        assert rows[1]["body"] == "Went with an in-house team"

    async def test_a_lost_reason_for_an_open_stage_is_a_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        response = await move(gateway, agency, deal["id"], stage="proposal", lost_reason="why")

        assert_invalid_fields(response, "lost_reason")

    async def test_moving_back_to_an_open_stage_reopens_the_deal(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        await moved(gateway, agency, deal["id"], stage="lost", lost_reason="Budget cut")

        reopened = await moved(gateway, agency, deal["id"], stage="negotiation")

        assert reopened["status"] == "open"
        assert reopened["closed_at"] is None
        assert reopened["lost_reason"] is None

    async def test_two_concurrent_moves_to_won_publish_won_exactly_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        answers = await asyncio.gather(
            *(move(gateway, agency, deal["id"], stage="won") for _ in range(4))
        )

        assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
        assert {r.json()["closed_at"] for r in answers} != {None}
        # The agency's events share one partition, in order: once this later move's event is
        # on the topic, any second "won" would be too.
        await moved(gateway, agency, deal["id"], stage="lead")
        events = await crm_events(
            platform,
            agency,
            lambda es: any(
                e["data"].get("to_stage") == "lead"
                for e in about(es, deal["id"], "crm.deal.stage_changed")
            ),
        )
        assert len(about(events, deal["id"], "crm.deal.won")) == 1
        assert len(about(events, deal["id"], "crm.deal.stage_changed")) == 2

    async def test_a_reorder_within_the_stage_publishes_nothing(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        first = await create_deal(gateway, agency, client)
        second = await create_deal(gateway, agency, client)

        reordered = await moved(gateway, agency, second["id"], stage="lead", before_id=first["id"])
        await moved(gateway, agency, first["id"], stage="proposal")  # the sentinel

        assert reordered["stage_name"] == "lead"
        events = await crm_events(platform, agency, lambda es: bool(about(es, first["id"])))
        assert about(events, second["id"]) == []
        kinds = [r["kind"] for r in await timeline_rows(platform, agency, client["id"])]
        assert kinds.count("deal_stage_changed") == 1

    async def test_a_stage_of_another_pipeline_is_a_422_naming_stage(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        other = await gateway.post(
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

        response = await move(gateway, agency, deal["id"], stage=other.json()["stages"][1]["id"])

        assert_invalid_fields(response, "stage")


# --- kanban -------------------------------------------------------------------------------------


class TestKanban:
    async def test_new_deals_go_to_the_bottom_of_their_column(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(gateway, agency, client, title=title)

        assert column(await board(gateway, agency), "lead") == ["A", "B", "C"]

    async def test_before_after_and_position_place_the_deal(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deals = {t: await create_deal(gateway, agency, client, title=t) for t in "ABC"}
        d = await create_deal(gateway, agency, client, title="D", stage="proposal")

        await moved(gateway, agency, deals["C"]["id"], stage="lead", before_id=deals["A"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "A", "B"]
        await moved(gateway, agency, deals["A"]["id"], stage="lead", after_id=deals["B"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "B", "A"]
        await moved(gateway, agency, d["id"], stage="lead", after_id=deals["C"]["id"])
        assert column(await board(gateway, agency), "lead") == ["C", "D", "B", "A"]
        await moved(gateway, agency, deals["A"]["id"], stage="lead", position=0)
        assert column(await board(gateway, agency), "lead") == ["A", "C", "D", "B"]
        await moved(gateway, agency, deals["C"]["id"], stage="lead", position=2)
        assert column(await board(gateway, agency), "lead") == ["A", "D", "C", "B"]
        await moved(gateway, agency, deals["A"]["id"], stage="proposal", position=99)
        view = await board(gateway, agency)
        assert column(view, "lead") == ["D", "C", "B"]
        assert column(view, "proposal") == ["A"]

    async def test_a_move_rewrites_only_the_moving_deals_position(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deals = [await create_deal(gateway, agency, client, title=t) for t in "ABC"]
        before = {
            d["title"]: d["position"] for d in (await board(gateway, agency))["stages"][0]["deals"]
        }

        await moved(gateway, agency, deals[2]["id"], stage="lead", after_id=deals[0]["id"])

        after = {
            d["title"]: d["position"] for d in (await board(gateway, agency))["stages"][0]["deals"]
        }
        assert after["A"] == before["A"]
        assert after["B"] == before["B"]
        assert before["A"] < after["C"] < before["B"]

    async def test_many_moves_into_one_gap_keep_the_order_when_the_column_is_renumbered(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        top = await create_deal(gateway, agency, client, title="top")
        await create_deal(gateway, agency, client, title="bottom")
        expected = ["top"]
        # Each deal goes right below "top", halving the gap every time: past ~30 halvings the
        # gap is too small and the column is renumbered.
        for i in range(36):
            deal = await create_deal(gateway, agency, client, title=f"n{i:02d}")
            await moved(gateway, agency, deal["id"], stage="lead", after_id=top["id"])
            expected.insert(1, f"n{i:02d}")
        expected.append("bottom")

        view = await board(gateway, agency)

        assert column(view, "lead") == expected
        positions = [d["position"] for d in view["stages"][0]["deals"]]
        assert positions == sorted(positions)
        assert len(set(positions)) == len(positions)

    async def test_concurrent_creations_and_crossing_moves_all_land_in_distinct_places(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        created = await asyncio.gather(
            *(
                gateway.post(
                    "/v1/deals",
                    json={"title": f"c{i}", "client_id": client["id"], "stage": stage},
                    headers=agency.headers,
                )
                for i, stage in enumerate(["lead", "proposal"] * 4)
            )
        )
        assert [r.status_code for r in created] == [201] * 8, [r.text for r in created]
        deals = [r.json() for r in created]

        # Every lead deal goes to the top of proposal and every proposal deal to the top of
        # lead, all at once: the two columns' locks are taken in one order by every mover.
        answers = await asyncio.gather(
            *(
                move(
                    gateway,
                    agency,
                    d["id"],
                    stage="proposal" if d["stage_name"] == "lead" else "lead",
                    position=0,
                )
                for d in deals
            )
        )

        assert [r.status_code for r in answers] == [200] * 8, [r.text for r in answers]
        view = await board(gateway, agency)
        for name in ("lead", "proposal"):
            stage = next(s for s in view["stages"] if s["name"] == name)
            positions = [d["position"] for d in stage["deals"]]
            assert len(positions) == 4
            assert len(set(positions)) == 4
            assert positions == sorted(positions)

    async def test_the_board_lists_stages_in_order_with_counts_and_values_per_currency(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        await create_deal(gateway, agency, client, title="e1", value_cents=1_000)
        await create_deal(gateway, agency, client, title="e2", value_cents=2_500)
        await create_deal(gateway, agency, client, title="u1", value_cents=700, currency="USD")
        p = await create_deal(gateway, agency, client, title="p1", value_cents=5, stage="proposal")
        await moved(gateway, agency, p["id"], stage="won")

        view = await board(gateway, agency)

        pipeline = await default_pipeline(gateway, agency)
        assert view["pipeline"] == {
            "id": pipeline["id"],
            "name": "Sales",
            "is_default": True,
        }
        summary = [
            (s["name"], s["kind"], s["probability"], s["count"], s["totals"])
            for s in view["stages"]
        ]
        assert summary == [
            (
                "lead",
                "open",
                10,
                3,
                [
                    {"currency": "EUR", "count": 2, "value_cents": 3_500},
                    {"currency": "USD", "count": 1, "value_cents": 700},
                ],
            ),
            ("proposal", "open", 40, 0, []),
            ("negotiation", "open", 70, 0, []),
            ("won", "won", 100, 1, [{"currency": "EUR", "count": 1, "value_cents": 5}]),
            ("lost", "lost", 0, 0, []),
        ]
        assert column(view, "won") == ["p1"]

    async def test_per_stage_limits_the_deals_shown_but_not_the_count(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title in ("A", "B", "C"):
            await create_deal(gateway, agency, client, title=title)

        view = await board(gateway, agency, per_stage=2)

        assert column(view, "lead") == ["A", "B"]
        assert view["stages"][0]["count"] == 3

    async def test_an_anchor_in_another_stage_is_a_422_naming_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        elsewhere = await create_deal(gateway, agency, client, stage="proposal")

        before = await move(gateway, agency, deal["id"], stage="lead", before_id=elsewhere["id"])
        after = await move(gateway, agency, deal["id"], stage="lead", after_id=deal["id"])

        assert_invalid_fields(before, "before_id")
        assert_invalid_fields(after, "after_id")

    async def test_more_than_one_placement_is_a_422_naming_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        other = await create_deal(gateway, agency, client)

        response = await move(
            gateway, agency, deal["id"], stage="lead", before_id=other["id"], position=0
        )

        assert_invalid_fields(response, "position", "before_id")


# --- listing ------------------------------------------------------------------------------------


class TestList:
    async def test_filters_narrow_the_list(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        other_client = await create_client(gateway, agency, currency="EUR")
        a = await create_deal(
            gateway, agency, client, title="Alpha", expected_close_date="2027-01-10"
        )
        b = await create_deal(
            gateway,
            agency,
            other_client,
            title="Beta",
            stage="proposal",
            assigned_to=str(member.user_id),
            expected_close_date="2027-02-10",
        )
        c = await create_deal(gateway, agency, client, title="Gamma")
        await moved(gateway, agency, c["id"], stage="won")
        pipeline = await default_pipeline(gateway, agency)

        def ids(page: dict[str, Any]) -> set[str]:
            return {d["id"] for d in page["items"]}

        assert ids(await list_deals(gateway, agency, stage="proposal")) == {b["id"]}
        assert ids(await list_deals(gateway, agency, stage=stage_id(pipeline, "lead"))) == {a["id"]}
        assert ids(await list_deals(gateway, agency, status="won")) == {c["id"]}
        assert ids(await list_deals(gateway, agency, status="open")) == {a["id"], b["id"]}
        assert ids(await list_deals(gateway, agency, assigned_to=str(member.user_id))) == {b["id"]}
        assert ids(await list_deals(gateway, agency, client_id=client["id"])) == {a["id"], c["id"]}
        assert ids(await list_deals(gateway, agency, pipeline_id=pipeline["id"])) == {
            a["id"],
            b["id"],
            c["id"],
        }
        assert ids(await list_deals(gateway, agency, q="ETA")) == {b["id"]}
        close_range = await list_deals(
            gateway,
            agency,
            date_field="expected_close_date",
            **{"from": "2027-01-01", "to": "2027-01-31"},
        )
        assert ids(close_range) == {a["id"]}
        created_days = {"from": a["created_at"][:10], "to": c["created_at"][:10]}
        assert ids(await list_deals(gateway, agency, **created_days)) == {a["id"], b["id"], c["id"]}
        assert ids(await list_deals(gateway, agency, **{"to": "2000-01-01"})) == set()

    async def test_sorting_and_paging(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        for title, value in (("b", 300), ("a", 100), ("c", 200)):
            await create_deal(gateway, agency, client, title=title, value_cents=value)

        by_value = await list_deals(gateway, agency, sort="-value_cents")
        by_title = await list_deals(gateway, agency, sort="title", per_page=2, page=2)
        newest = await list_deals(gateway, agency)

        assert [d["title"] for d in by_value["items"]] == ["b", "c", "a"]
        assert [d["title"] for d in by_title["items"]] == ["c"]
        assert (by_title["total"], by_title["page"], by_title["per_page"]) == (3, 2, 2)
        assert [d["title"] for d in newest["items"]] == ["c", "a", "b"]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({"status": "pending"}, "query.status", id="unknown-status"),
            pytest.param({"sort": "colour"}, "query.sort", id="unknown-sort"),
            pytest.param({"from": "yesterday"}, "query.from", id="bad-date"),
            pytest.param(
                {"from": "2027-02-01", "to": "2027-01-01"}, "query.from", id="from-after-to"
            ),
            pytest.param({"assigned_to": "bob"}, "query.assigned_to", id="bad-assignee"),
            pytest.param({"per_page": 500}, "query.per_page", id="too-many-per-page"),
        ],
    )
    async def test_bad_parameters_are_a_422_naming_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession, params: dict[str, Any], field: str
    ) -> None:
        response = await gateway.get("/v1/deals", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)


# --- editing and deleting -----------------------------------------------------------------------


class TestEditAndDelete:
    async def test_patch_changes_only_the_fields_sent(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        deal = await create_deal(gateway, agency, client, description="keep me")
        template_id = str(uuid.uuid4())

        response = await gateway.patch(
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
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(
            gateway, agency, client, description="x", expected_close_date="2027-01-01"
        )

        response = await gateway.patch(
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
            pytest.param({"probability": 101}, "probability", id="probability-above-100"),
            pytest.param({"stage": "won"}, "stage", id="the-stage-moves-elsewhere"),
            pytest.param({"assigned_to": str(uuid.uuid4())}, "assigned_to", id="not-a-member"),
        ],
    )
    async def test_bad_edits_are_a_422_naming_the_field(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        response = await gateway.patch(f"/v1/deals/{deal['id']}", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)
        assert await get_deal(gateway, agency, deal["id"]) == deal

    async def test_a_deleted_deal_is_gone(
        self, gateway: httpx.AsyncClient, agency: AgencySession, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        deleted = await gateway.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)
        again = await gateway.get(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert deleted.status_code == 204, deleted.text
        assert_problem(again, 404, "not-found")


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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        full = {"title": "Fine", "client_id": client["id"], **body}

        response = await gateway.post("/v1/deals", json=full, headers=agency.headers)

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
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
        body: dict[str, Any],
        field: str,
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        response = await move(gateway, agency, deal["id"], **body)

        assert_invalid_fields(response, field)

    async def test_a_deal_id_that_is_not_a_uuid_is_a_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get("/v1/deals/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.deal_id")


# --- forecast -----------------------------------------------------------------------------------


class TestForecast:
    """Hand-computed: weighted = value x probability / 100, half up per deal, then summed.

    | deal | value  | cur | stage       | p  | weighted       | close      | owner   |
    |------|--------|-----|-------------|----|----------------|------------|---------|
    | d1   | 10 005 | EUR | lead        | 10 | 1 000.5 -> 1001 | 2027-01-15 | owner   |
    | d2   |  3 333 | EUR | proposal    | 40 | 1 333.2 -> 1333 | 2027-01-31 | owner   |
    | d3   |    999 | EUR | negotiation | 55*|  549.45 -> 549  | 2027-02-10 | manager |
    | d4   | 20 001 | USD | proposal    | 40 | 8 000.4 -> 8000 | 2027-01-05 | manager |
    | d5   |  5 000 | EUR | lead        | 10 |    500         | —          | nobody  |
    | d6   |    150 | USD | lead        |  5*|    7.5 -> 8     | 2027-02-01 | owner   |
    | d7   |      5 | EUR | lead        | 10 |    0.5 -> 1     | 2027-03-01 | owner   |
    | d8   |      5 | EUR | lead        | 10 |    0.5 -> 1     | 2027-03-20 | owner   |
    | won  |  7 777 | EUR | won         |    | (not open)     | 2027-01-10 | owner   |
    | lost |  4 444 | EUR | lost        |    | (not open)     | 2027-01-10 | owner   |
    (* the deal's own probability). d7 + d8: rounded per deal 2, not round(1.0) = 1.
    """

    @pytest.fixture
    async def setup(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> dict[str, str]:
        manager = await add_member(platform, gateway, agency, "manager")
        owner, mgr = str(agency.user_id), str(manager.user_id)
        rows: list[dict[str, Any]] = [
            dict(value_cents=10_005, stage="lead", expected_close_date="2027-01-15"),
            dict(value_cents=3_333, stage="proposal", expected_close_date="2027-01-31"),
            dict(
                value_cents=999,
                stage="negotiation",
                probability=55,
                expected_close_date="2027-02-10",
                assigned_to=mgr,
            ),
            dict(
                value_cents=20_001,
                currency="USD",
                stage="proposal",
                expected_close_date="2027-01-05",
                assigned_to=mgr,
            ),
            dict(value_cents=5_000, stage="lead", assigned_to=None),
            dict(value_cents=150, currency="USD", probability=5, expected_close_date="2027-02-01"),
            dict(value_cents=5, expected_close_date="2027-03-01"),
            dict(value_cents=5, expected_close_date="2027-03-20"),
        ]
        for fields in rows:
            await create_deal(gateway, agency, client, **fields)
        won = await create_deal(
            gateway, agency, client, value_cents=7_777, expected_close_date="2027-01-10"
        )
        await moved(gateway, agency, won["id"], stage="won")
        lost = await create_deal(
            gateway, agency, client, value_cents=4_444, expected_close_date="2027-01-10"
        )
        await moved(gateway, agency, lost["id"], stage="lost", lost_reason="No budget")
        pipeline = await default_pipeline(gateway, agency)
        return {"owner": owner, "manager": mgr, **{s["name"]: s["id"] for s in pipeline["stages"]}}

    async def forecast(
        self, gateway: httpx.AsyncClient, who: AgencySession, **params: Any
    ) -> dict[str, Any]:
        response = await gateway.get("/v1/deals/forecast", params=params, headers=who.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    @staticmethod
    def rows(body: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [
            (g["key"], g["currency"], g["count"], g["value_cents"], g["weighted_value_cents"])
            for g in body["groups"]
        ]

    TOTALS = [
        {"currency": "EUR", "count": 6, "value_cents": 19_347, "weighted_value_cents": 3_385},
        {"currency": "USD", "count": 2, "value_cents": 20_151, "weighted_value_cents": 8_008},
    ]

    async def test_by_month(
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="month")

        assert body["group_by"] == "month"
        assert "half-up per deal" in body["rounding"]
        assert self.rows(body) == [
            ("2027-01", "EUR", 2, 13_338, 2_334),
            ("2027-01", "USD", 1, 20_001, 8_000),
            ("2027-02", "EUR", 1, 999, 549),
            ("2027-02", "USD", 1, 150, 8),
            ("2027-03", "EUR", 2, 10, 2),
            (None, "EUR", 1, 5_000, 500),
        ]
        assert body["totals"] == self.TOTALS

    async def test_by_stage(
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="stage")

        assert self.rows(body) == [
            (setup["lead"], "EUR", 4, 15_015, 1_503),
            (setup["lead"], "USD", 1, 150, 8),
            (setup["proposal"], "EUR", 1, 3_333, 1_333),
            (setup["proposal"], "USD", 1, 20_001, 8_000),
            (setup["negotiation"], "EUR", 1, 999, 549),
        ]
        assert [g["label"] for g in body["groups"]] == [
            "lead",
            "lead",
            "proposal",
            "proposal",
            "negotiation",
        ]
        assert body["totals"] == self.TOTALS

    async def test_by_owner(
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="owner")

        by_owner = {(k, c): (n, v, w) for k, c, n, v, w in self.rows(body)}
        assert by_owner == {
            (setup["owner"], "EUR"): (4, 13_348, 2_336),
            (setup["owner"], "USD"): (1, 150, 8),
            (setup["manager"], "EUR"): (1, 999, 549),
            (setup["manager"], "USD"): (1, 20_001, 8_000),
            (None, "EUR"): (1, 5_000, 500),
        }
        assert self.rows(body)[-1][0] is None  # unassigned last
        assert body["totals"] == self.TOTALS

    async def test_a_date_range_keeps_deals_closing_in_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession, setup: dict[str, str]
    ) -> None:
        body = await self.forecast(
            gateway, agency, group_by="month", **{"from": "2027-01-01", "to": "2027-01-31"}
        )

        assert self.rows(body) == [
            ("2027-01", "EUR", 2, 13_338, 2_334),
            ("2027-01", "USD", 1, 20_001, 8_000),
        ]
        assert body["totals"] == [
            {"currency": "EUR", "count": 2, "value_cents": 13_338, "weighted_value_cents": 2_334},
            {"currency": "USD", "count": 1, "value_cents": 20_001, "weighted_value_cents": 8_000},
        ]

    async def test_a_pipeline_filter_keeps_that_pipelines_deals(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
        setup: dict[str, str],
    ) -> None:
        created = await gateway.post(
            "/v1/pipelines",
            json={
                "name": "Retainers",
                "stages": [
                    {"name": "Intro", "probability": 33},
                    {"name": "Signed", "kind": "won"},
                    {"name": "Declined", "kind": "lost"},
                ],
            },
            headers=agency.headers,
        )
        other = created.json()
        await create_deal(gateway, agency, client, pipeline_id=other["id"], value_cents=1_001)

        only_other = await self.forecast(gateway, agency, group_by="stage", pipeline_id=other["id"])
        everything = await self.forecast(gateway, agency, group_by="stage")

        assert self.rows(only_other) == [(other["stages"][0]["id"], "EUR", 1, 1_001, 330)]
        assert everything["totals"][0]["count"] == 7

    async def test_an_agency_without_deals_has_an_empty_forecast(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await self.forecast(gateway, agency, group_by="owner")

        assert (body["groups"], body["totals"]) == ([], [])

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({}, "query.group_by", id="no-group-by"),
            pytest.param({"group_by": "week"}, "query.group_by", id="unknown-group-by"),
            pytest.param({"group_by": "month", "to": "x"}, "query.to", id="bad-date"),
        ],
    )
    async def test_bad_parameters_are_a_422_naming_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession, params: dict[str, Any], field: str
    ) -> None:
        response = await gateway.get("/v1/deals/forecast", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)


# --- work.project.created -----------------------------------------------------------------------


def project_created(
    agency: AgencySession, deal: dict[str, Any] | None, name: str = "Shop build"
) -> CloudEvent:
    project_id = uuid.uuid4()
    return build_event(
        ProjectCreated(
            project_id=project_id,
            name=name,
            client_id=uuid.UUID(deal["client_id"]) if deal else None,
            deal_id=uuid.UUID(deal["id"]) if deal else None,
            created_by=None,
        ),
        tenant_id=agency.agency_id,
        source_service="work",
        subject=f"projects/{project_id}",
    )


class TestProjectCreated:
    async def test_the_deal_shows_its_project_and_the_timeline_says_so(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        # The deal stays open here: the running work service makes a project of its own for
        # every won deal, and this test is about the event it sends, written by hand.
        deal = await create_deal(gateway, agency, client, title="Shop")
        event = project_created(agency, deal)

        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            found = await get_deal(gateway, agency, deal["id"])
            return found["project_id"] == event.data["project_id"]

        await wait_for(linked, timeout=30)
        rows = [
            r
            for r in await timeline_rows(platform, agency, client["id"])
            if r["kind"] == "project_created"
        ]
        assert len(rows) == 1
        assert rows[0]["source_event_id"] == event.id
        assert rows[0]["title"] == "Project Shop build created from deal Shop"

    async def test_a_redelivered_event_links_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        sentinel_deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        sentinel = project_created(agency, sentinel_deal)
        topic = f"{platform.topic_prefix}work.events"

        for _ in range(3):
            await writer.send_event(topic, event)
        await writer.send_event(topic, sentinel)

        async def sentinel_linked() -> bool:
            found = await get_deal(gateway, agency, sentinel_deal["id"])
            return found["project_id"] == sentinel.data["project_id"]

        await wait_for(sentinel_linked, timeout=30)
        assert (await get_deal(gateway, agency, deal["id"]))["project_id"] == event.data[
            "project_id"
        ]
        rows = await timeline_rows(platform, agency, client["id"])
        assert [r["source_event_id"] for r in rows if r["kind"] == "project_created"] == [
            event.id,
            sentinel.id,
        ]

    async def test_a_deal_with_a_project_cannot_be_deleted(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            return bool((await get_deal(gateway, agency, deal["id"]))["project_id"])

        await wait_for(linked, timeout=30)

        response = await gateway.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")


# --- permissions --------------------------------------------------------------------------------


class TestPermissions:
    async def test_a_member_reads_deals_but_may_not_write_them(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        member = await add_member(platform, gateway, agency, "member")
        h = member.headers

        reads = [
            await gateway.get("/v1/deals", headers=h),
            await gateway.get(f"/v1/deals/{deal['id']}", headers=h),
            await gateway.get("/v1/deals/board", headers=h),
        ]
        writes = [
            await gateway.post(
                "/v1/deals",
                json={"title": "x", "client_id": client["id"]},
                headers=h,
            ),
            await gateway.patch(f"/v1/deals/{deal['id']}", json={"title": "x"}, headers=h),
            await gateway.put(f"/v1/deals/{deal['id']}/stage", json={"stage": "won"}, headers=h),
            await gateway.delete(f"/v1/deals/{deal['id']}", headers=h),
        ]
        forecast = await gateway.get("/v1/deals/forecast?group_by=month", headers=h)

        assert [r.status_code for r in reads] == [200, 200, 200], [r.text for r in reads]
        for response in writes:
            assert "deals.write" in assert_problem(response, 403, "permission-denied")["detail"]
        assert "reports.financial.read" in assert_problem(forecast, 403)["detail"]
        assert await get_deal(gateway, agency, deal["id"]) == deal

    async def test_a_manager_may_create_and_move_deals_and_read_the_forecast(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        deal = await create_deal(gateway, manager, client)
        won = await moved(gateway, manager, deal["id"], stage="won")
        forecast = await gateway.get("/v1/deals/forecast?group_by=stage", headers=manager.headers)

        assert deal["assigned_to"] == str(manager.user_id)
        assert won["status"] == "won"
        assert forecast.status_code == 200, forecast.text

    async def test_a_client_user_may_not_see_deals(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        client_user = await add_member(platform, gateway, agency, "client")
        h = client_user.headers

        for response in (
            await gateway.get("/v1/deals", headers=h),
            await gateway.get(f"/v1/deals/{deal['id']}", headers=h),
            await gateway.get("/v1/deals/board", headers=h),
            await gateway.get("/v1/deals/forecast?group_by=owner", headers=h),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_without_a_token_it_is_a_401(self, gateway: httpx.AsyncClient) -> None:
        assert_problem(await gateway.get("/v1/deals"), 401, "unauthenticated")


# --- tenant isolation ---------------------------------------------------------------------------


class TestTenantIsolation:
    async def test_another_agencys_deal_is_a_404_on_every_route_like_a_missing_one(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        theirs = await create_deal(
            gateway, other_agency, await create_client(gateway, other_agency, currency="EUR")
        )
        me = agency.headers
        details = set()
        for deal_id in (theirs["id"], str(uuid.uuid4())):
            for response in (
                await gateway.get(f"/v1/deals/{deal_id}", headers=me),
                await gateway.patch(f"/v1/deals/{deal_id}", json={"title": "x"}, headers=me),
                await gateway.delete(f"/v1/deals/{deal_id}", headers=me),
                await gateway.put(f"/v1/deals/{deal_id}/stage", json={"stage": "won"}, headers=me),
            ):
                details.add(assert_problem(response, 404, "not-found")["detail"])
        assert details == {"no such deal"}
        assert await get_deal(gateway, other_agency, theirs["id"]) == theirs

    async def test_another_agencys_client_pipeline_or_stage_is_a_404_when_creating(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        their_client = await create_client(gateway, other_agency, currency="EUR")
        their_pipeline = await default_pipeline(gateway, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]
        base = {"title": "x", "client_id": client["id"]}

        for body in (
            {**base, "client_id": their_client["id"]},
            {**base, "client_id": str(uuid.uuid4())},
            {**base, "pipeline_id": their_pipeline["id"]},
            {**base, "stage": their_stage},
            {**base, "stage": str(uuid.uuid4())},
        ):
            response = await gateway.post("/v1/deals", json=body, headers=agency.headers)
            assert_problem(response, 404, "not-found")
        assert (await list_deals(gateway, agency))["total"] == 0
        assert (await list_deals(gateway, other_agency))["total"] == 0

    async def test_another_agencys_stage_or_anchor_deal_is_a_404_when_moving(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        mine = await create_deal(gateway, agency, client)
        theirs = await create_deal(
            gateway, other_agency, await create_client(gateway, other_agency, currency="EUR")
        )
        their_stage = (await default_pipeline(gateway, other_agency))["stages"][1]["id"]

        to_their_stage = await move(gateway, agency, mine["id"], stage=their_stage)
        before_theirs = await move(
            gateway, agency, mine["id"], stage="lead", before_id=theirs["id"]
        )
        after_missing = await move(
            gateway, agency, mine["id"], stage="lead", after_id=str(uuid.uuid4())
        )

        assert_problem(to_their_stage, 404, "not-found")
        assert_problem(before_theirs, 404, "not-found")
        assert_problem(after_missing, 404, "not-found")
        assert await get_deal(gateway, agency, mine["id"]) == mine

    async def test_another_agencys_pipeline_is_a_404_on_board_forecast_and_list(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        their_pipeline = await default_pipeline(gateway, other_agency)
        their_stage = their_pipeline["stages"][0]["id"]

        for response in (
            await gateway.get(
                "/v1/deals/board",
                params={"pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await gateway.get(
                "/v1/deals/forecast",
                params={"group_by": "stage", "pipeline_id": their_pipeline["id"]},
                headers=agency.headers,
            ),
            await gateway.get("/v1/deals", params={"stage": their_stage}, headers=agency.headers),
        ):
            assert_problem(response, 404, "not-found")

    async def test_another_agency_lists_sees_and_forecasts_none_of_the_deals(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        await create_deal(gateway, agency, client, value_cents=1_000)

        page = await list_deals(gateway, other_agency)
        view = await board(gateway, other_agency)
        forecast = await gateway.get(
            "/v1/deals/forecast?group_by=month", headers=other_agency.headers
        )

        assert page["total"] == 0
        assert all(s["count"] == 0 for s in view["stages"])
        assert forecast.json()["groups"] == []


# --- gRPC ---------------------------------------------------------------------------------------


@pytest.fixture
async def crm_stub(platform: Platform) -> AsyncIterator[crm_pb2_grpc.CrmServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("crm")) as channel:
        yield crm_pb2_grpc.CrmServiceStub(channel)


async def get_deal_rpc(
    stub: crm_pb2_grpc.CrmServiceStub, who: AgencySession, deal_id: str
) -> crm_pb2.Deal:
    return await stub.GetDeal(
        crm_pb2.GetDealRequest(deal_id=deal_id),
        metadata=[("authorization", f"Bearer {who.access_token}")],
        timeout=10,
    )


class TestGrpcGetDeal:
    async def test_the_deal_is_answered_with_its_stage_and_probability(
        self,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        template_id = str(uuid.uuid4())
        deal = await create_deal(
            gateway, agency, client, value_cents=12_345_678_901, template_id=template_id
        )

        open_deal = await get_deal_rpc(crm_stub, agency, deal["id"])
        won = await moved(gateway, agency, deal["id"], stage="won")
        won_deal = await get_deal_rpc(crm_stub, agency, deal["id"])

        assert (open_deal.id, open_deal.title, open_deal.client_id) == (
            deal["id"],
            deal["title"],
            client["id"],
        )
        assert (open_deal.value_cents, open_deal.currency) == (12_345_678_901, "EUR")
        assert (open_deal.stage, open_deal.stage_kind, open_deal.probability) == (
            "lead",
            "open",
            10,
        )
        assert open_deal.template_id == template_id
        assert (open_deal.project_id, open_deal.closed_at) == ("", "")
        assert open_deal.assigned_to == str(agency.user_id)
        assert (won_deal.stage, won_deal.stage_kind, won_deal.probability) == ("won", "won", 100)
        assert won_deal.closed_at.endswith("Z")
        assert won_deal.closed_at[:19] == won["closed_at"][:19]

    async def test_another_agencys_or_a_missing_deal_is_not_found(
        self,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)

        for deal_id in (deal["id"], str(uuid.uuid4())):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_deal_rpc(crm_stub, other_agency, deal_id)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_deal_id_that_is_not_a_uuid_is_invalid(
        self, crm_stub: crm_pb2_grpc.CrmServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, agency, "deal-1")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_client_user_is_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm_stub: crm_pb2_grpc.CrmServiceStub,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        client_user = await add_member(platform, gateway, agency, "client")

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_deal_rpc(crm_stub, client_user, deal["id"])

        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_without_a_token_it_is_unauthenticated(
        self, crm_stub: crm_pb2_grpc.CrmServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await crm_stub.GetDeal(crm_pb2.GetDealRequest(deal_id=str(uuid.uuid4())), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
