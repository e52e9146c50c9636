"""The deal's stage state machine: moves along the pipeline, winning and losing (with a
reason), reopening, concurrent moves, and the events each move writes to CRM's outbox (what
its relay publishes on `crm.events`) and the client's timeline."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from agencyos.testing.deals import (
    about,
    create_deal,
    default_pipeline,
    get_deal,
    move,
    moved,
    stage_id,
)
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller, InProcess, ServiceInProcess
from agencyos.testing.sql import fetch_rows

CrmEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


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


class TestStageChanges:
    async def test_a_move_across_stages_publishes_stage_changed_and_notes_it(
        self,
        crm_service: ServiceInProcess,
        crm_events: CrmEvents,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client, value_cents=42_00)
        pipeline = await default_pipeline(crm, agency)

        after = await moved(crm, agency, deal["id"], stage="proposal")

        assert (after["stage_name"], after["stage_id"]) == (
            "proposal",
            stage_id(pipeline, "proposal"),
        )
        # the creation's `crm.deal.assigned` came first
        (_, event) = about(await crm_events(agency), deal["id"])
        assert event["type"] == "crm.deal.stage_changed"
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
        rows = await timeline_rows(crm_service, agency, client["id"])
        assert [r["kind"] for r in rows] == ["deal_created", "deal_stage_changed"]
        assert rows[1]["title"] == f"Deal {deal['title']} moved from lead to proposal"

    async def test_moving_to_won_closes_the_deal_and_publishes_won_with_what_work_needs(
        self,
        in_process: InProcess,
        crm_service: ServiceInProcess,
        crm_events: CrmEvents,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        template_id = str(in_process.standins.work.add_template(agency.agency_id))
        deal = await create_deal(
            crm,
            agency,
            client,
            title="Shop build",
            value_cents=2_500_000,
            description="Shopify build",
            template_id=template_id,
            expected_close_date="2027-03-01",
        )

        won = await moved(crm, agency, deal["id"], stage="won")

        assert (won["status"], won["stage_name"]) == ("won", "won")
        assert won["closed_at"] is not None
        events = await crm_events(agency)
        assert [e["type"] for e in about(events, deal["id"])] == [
            "crm.deal.assigned",
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
        rows = await timeline_rows(crm_service, agency, client["id"])
        assert [r["kind"] for r in rows] == ["deal_created", "deal_won"]

    async def test_moving_to_lost_needs_a_reason(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        without = await move(crm, agency, deal["id"], stage="lost")
        blank = await move(crm, agency, deal["id"], stage="lost", lost_reason="  ")

        assert_invalid_fields(without, "lost_reason")
        assert_invalid_fields(blank, "lost_reason")
        assert (await get_deal(crm, agency, deal["id"]))["status"] == "open"

    async def test_moving_to_lost_closes_the_deal_and_publishes_lost(
        self,
        crm_service: ServiceInProcess,
        crm_events: CrmEvents,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client, value_cents=9_900)

        lost = await moved(
            crm, agency, deal["id"], stage="lost", lost_reason="Went with an in-house team"
        )

        assert (lost["status"], lost["lost_reason"]) == ("lost", "Went with an in-house team")
        assert lost["closed_at"] is not None
        events = await crm_events(agency)
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
        rows = await timeline_rows(crm_service, agency, client["id"])
        assert [r["kind"] for r in rows] == ["deal_created", "deal_lost"]
        assert rows[1]["body"] == "Went with an in-house team"

    async def test_a_lost_reason_for_an_open_stage_is_a_422(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        response = await move(crm, agency, deal["id"], stage="proposal", lost_reason="why")

        assert_invalid_fields(response, "lost_reason")

    async def test_moving_back_to_an_open_stage_reopens_the_deal(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)
        await moved(crm, agency, deal["id"], stage="lost", lost_reason="Budget cut")

        reopened = await moved(crm, agency, deal["id"], stage="negotiation")

        assert reopened["status"] == "open"
        assert reopened["closed_at"] is None
        assert reopened["lost_reason"] is None

    async def test_two_concurrent_moves_to_won_publish_won_exactly_once(
        self,
        crm_events: CrmEvents,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)

        answers = await asyncio.gather(
            *(move(crm, agency, deal["id"], stage="won") for _ in range(4))
        )

        assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
        assert {r.json()["closed_at"] for r in answers} != {None}
        await moved(crm, agency, deal["id"], stage="lead")
        events = await crm_events(agency)
        assert len(about(events, deal["id"], "crm.deal.won")) == 1
        assert len(about(events, deal["id"], "crm.deal.stage_changed")) == 2

    async def test_a_reorder_within_the_stage_publishes_nothing(
        self,
        crm_service: ServiceInProcess,
        crm_events: CrmEvents,
        crm: httpx.AsyncClient,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        first = await create_deal(crm, agency, client, assigned_to=None)
        second = await create_deal(crm, agency, client, assigned_to=None)

        reordered = await moved(crm, agency, second["id"], stage="lead", before_id=first["id"])
        await moved(crm, agency, first["id"], stage="proposal")  # a move that does publish

        assert reordered["stage_name"] == "lead"
        events = await crm_events(agency)
        assert about(events, first["id"])
        assert about(events, second["id"]) == []
        kinds = [r["kind"] for r in await timeline_rows(crm_service, agency, client["id"])]
        assert kinds.count("deal_stage_changed") == 1

    async def test_a_stage_of_another_pipeline_is_a_422_naming_stage(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)
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

        response = await move(crm, agency, deal["id"], stage=other.json()["stages"][1]["id"])

        assert_invalid_fields(response, "stage")
