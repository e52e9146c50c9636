"""CRM pipelines and stages through the gateway: the default pipeline every agency gets from
`identity.agency.created` (and lazily, once, when a route needs it), and the rules for
editing pipelines and their stages."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from agencyos.common.events import AgencyCreated, CloudEvent, build_event
from agencyos.testing.factories import AgencySession, add_member, create_crm_client
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import TopicWriter
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value

DEFAULT_STAGES = [
    ("lead", "open", 10),
    ("proposal", "open", 40),
    ("negotiation", "open", 70),
    ("won", "won", 100),
    ("lost", "lost", 0),
]


async def pipelines_of(gateway: httpx.AsyncClient, who: AgencySession) -> list[dict[str, Any]]:
    response = await gateway.get("/v1/pipelines", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def default_pipeline(gateway: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    return next(p for p in await pipelines_of(gateway, who) if p["is_default"])


def shape(pipeline: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(s["name"], s["kind"], s["probability"]) for s in pipeline["stages"]]


def stage_named(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["name"] == name)


async def create_pipeline(
    gateway: httpx.AsyncClient, who: AgencySession, **overrides: Any
) -> dict[str, Any]:
    body = {
        "name": f"Pipeline {uuid.uuid4().hex[:6]}",
        "stages": [
            {"name": "Intro", "kind": "open", "probability": 20},
            {"name": "Scoping", "kind": "open", "probability": 50},
            {"name": "Signed", "kind": "won"},
            {"name": "Declined", "kind": "lost"},
        ],
        **overrides,
    }
    response = await gateway.post("/v1/pipelines", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_deal(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: uuid.UUID, **fields: Any
) -> dict[str, Any]:
    body = {"title": "A deal", "client_id": str(client_id), "currency": "EUR", **fields}
    response = await gateway.post("/v1/deals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def crm_rows(platform: Platform, who: AgencySession, query: str, *args: Any) -> list[Any]:
    return await fetch_rows(
        platform.infra, platform.database("crm"), query, *args, tenant_id=who.agency_id, owner=True
    )


async def agency_created_handled(platform: Platform, who: AgencySession, event_id: Any) -> bool:
    count = await fetch_value(
        platform.infra,
        platform.database("crm"),
        "SELECT count(*) FROM inbox WHERE consumer = 'crm' AND event_id = $1",
        event_id,
        tenant_id=who.agency_id,
        owner=True,
    )
    return bool(count)


async def signup_event_id(platform: Platform, who: AgencySession) -> uuid.UUID:
    """The id of the `identity.agency.created` event identity published for the agency."""
    rows = await fetch_rows(
        platform.infra,
        platform.database("identity"),
        "SELECT event_id FROM outbox WHERE event_type = 'identity.agency.created'",
        tenant_id=who.agency_id,
        owner=True,
    )
    assert len(rows) == 1, rows
    event_id: uuid.UUID = rows[0]["event_id"]
    return event_id


class TestDefaultPipeline:
    async def test_a_new_agency_gets_the_sales_pipeline_from_its_created_event(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        # Without calling a pipeline route (which would create it lazily): wait until the
        # crm consumer has handled the agency's identity.agency.created event.
        event_id = await signup_event_id(platform, agency)
        await wait_for(lambda: agency_created_handled(platform, agency, event_id), timeout=30)

        rows = await crm_rows(
            platform,
            agency,
            "SELECT p.name AS pipeline, p.is_default, s.name, s.kind, s.probability "
            "FROM pipelines p JOIN stages s ON s.pipeline_id = p.id ORDER BY s.position",
        )

        assert {(r["pipeline"], r["is_default"]) for r in rows} == {("Sales", True)}
        assert [(r["name"], r["kind"], r["probability"]) for r in rows] == DEFAULT_STAGES

    async def test_the_api_lists_the_default_pipeline_with_its_stages_in_order(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        page = (await gateway.get("/v1/pipelines", headers=agency.headers)).json()

        assert page["total"] == 1
        (pipeline,) = page["items"]
        assert pipeline["name"] == "Sales"
        assert pipeline["is_default"] is True
        assert shape(pipeline) == DEFAULT_STAGES
        assert [s["position"] for s in pipeline["stages"]] == [0, 1, 2, 3, 4]
        assert {s["pipeline_id"] for s in pipeline["stages"]} == {pipeline["id"]}

    async def test_a_redelivered_or_repeated_agency_created_event_creates_nothing_more(
        self, platform: Platform, writer: TopicWriter, agency: AgencySession
    ) -> None:
        original = await signup_event_id(platform, agency)
        await wait_for(lambda: agency_created_handled(platform, agency, original), timeout=30)
        # A second event for the same agency (another id, so the inbox does not catch it):
        # the existing default pipeline is what stops it.
        again: CloudEvent = build_event(
            AgencyCreated(
                agency_id=agency.agency_id,
                slug=agency.slug,
                name="Again",
                owner_user_id=agency.user_id,
                currency="EUR",
                timezone="UTC",
            ),
            tenant_id=agency.agency_id,
            source_service="identity",
            subject=f"agencies/{agency.agency_id}",
        )
        topic = f"{platform.topic_prefix}identity.events"
        await writer.send_event(topic, again)
        await writer.send_event(topic, again)
        await wait_for(lambda: agency_created_handled(platform, agency, again.id), timeout=30)

        pipelines = await crm_rows(platform, agency, "SELECT id FROM pipelines")
        stages = await crm_rows(platform, agency, "SELECT id FROM stages")

        assert len(pipelines) == 1
        assert len(stages) == 5

    async def test_an_agency_without_a_pipeline_gets_exactly_one_from_concurrent_requests(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # An agency from before pipelines existed: its default pipeline is made lazily.
        event_id = await signup_event_id(platform, agency)
        await wait_for(lambda: agency_created_handled(platform, agency, event_id), timeout=30)
        conn = await platform.infra.raw(platform.database("crm"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute("DELETE FROM pipelines")
        finally:
            await conn.close()

        answers = await asyncio.gather(
            *(gateway.get("/v1/pipelines", headers=agency.headers) for _ in range(6))
        )

        assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
        assert len({r.json()["items"][0]["id"] for r in answers}) == 1
        assert len(await crm_rows(platform, agency, "SELECT id FROM pipelines")) == 1
        assert len(await crm_rows(platform, agency, "SELECT id FROM stages")) == 5


class TestCreatePipeline:
    async def test_a_pipeline_is_created_with_its_stages_in_the_order_given(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/pipelines",
            json={
                "name": "  Retainers ",
                "stages": [
                    {"name": "Intro", "probability": 20},
                    {"name": "Signed", "kind": "won"},
                    {"name": "Declined", "kind": "lost"},
                    {"name": "Scoping", "kind": "open", "probability": 50},
                ],
            },
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        pipeline = response.json()
        assert response.headers["location"] == f"/v1/pipelines/{pipeline['id']}"
        assert pipeline["name"] == "Retainers"
        assert pipeline["is_default"] is False
        assert shape(pipeline) == [
            ("Intro", "open", 20),
            ("Signed", "won", 100),
            ("Declined", "lost", 0),
            ("Scoping", "open", 50),
        ]
        fetched = await gateway.get(f"/v1/pipelines/{pipeline['id']}", headers=agency.headers)
        assert fetched.json() == pipeline

    async def test_the_list_shows_the_default_pipeline_first(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_pipeline(gateway, agency)

        pipelines = await pipelines_of(gateway, agency)

        assert [p["name"] for p in pipelines] == ["Sales", created["name"]]

    @pytest.mark.parametrize(
        ("stages", "field"),
        [
            pytest.param(
                [
                    {"name": "A", "probability": 10},
                    {"name": "B", "probability": 20},
                    {"name": "Won", "kind": "won"},
                ],
                "stages",
                id="no-lost-stage",
            ),
            pytest.param(
                [
                    {"name": "Won", "kind": "won"},
                    {"name": "Lost", "kind": "lost"},
                    {"name": "Lost 2", "kind": "lost"},
                ],
                "stages",
                id="no-open-stage",
            ),
            pytest.param(
                [
                    {"name": "Lead", "probability": 10},
                    {"name": "LEAD ", "probability": 20},
                    {"name": "Won", "kind": "won"},
                    {"name": "Lost", "kind": "lost"},
                ],
                "stages.1.name",
                id="duplicate-name-any-case",
            ),
            pytest.param(
                [{"name": "Lead"}, {"name": "Won", "kind": "won"}, {"name": "L", "kind": "lost"}],
                "stages.0.probability",
                id="open-stage-without-probability",
            ),
            pytest.param(
                [
                    {"name": "Lead", "probability": 101},
                    {"name": "Won", "kind": "won"},
                    {"name": "L", "kind": "lost"},
                ],
                "stages.0.probability",
                id="probability-above-100",
            ),
            pytest.param(
                [
                    {"name": "Lead", "kind": "maybe", "probability": 1},
                    {"name": "Won", "kind": "won"},
                    {"name": "L", "kind": "lost"},
                ],
                "stages.0.kind",
                id="unknown-kind",
            ),
            pytest.param(
                [{"name": "Lead", "probability": 1}, {"name": "Won", "kind": "won"}],
                "stages",
                id="too-few-stages",
            ),
        ],
    )
    async def test_bad_stages_are_a_422_naming_the_field(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        stages: list[dict[str, Any]],
        field: str,
    ) -> None:
        response = await gateway.post(
            "/v1/pipelines", json={"name": "Bad", "stages": stages}, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_a_blank_name_is_a_422_naming_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/pipelines",
            json={"name": "  ", "stages": [{"name": "x", "kind": "won"}] * 3},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "name")


class TestRenamePipeline:
    async def test_a_pipeline_can_be_renamed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}", json={"name": "New business"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "New business"
        assert response.json()["stages"] == pipeline["stages"]
        assert (await default_pipeline(gateway, agency))["name"] == "New business"

    async def test_renaming_to_a_blank_name_is_a_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}", json={"name": ""}, headers=agency.headers
        )

        assert_invalid_fields(response, "name")


class TestAddStage:
    async def test_a_stage_is_added_at_the_position_given(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Discovery", "probability": 25, "position": 1},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        stage = response.json()
        assert (stage["name"], stage["kind"], stage["probability"], stage["position"]) == (
            "Discovery",
            "open",
            25,
            1,
        )
        after = await default_pipeline(gateway, agency)
        assert [s["name"] for s in after["stages"]] == [
            "lead",
            "Discovery",
            "proposal",
            "negotiation",
            "won",
            "lost",
        ]
        assert [s["position"] for s in after["stages"]] == [0, 1, 2, 3, 4, 5]

    async def test_without_a_position_the_stage_goes_last_and_won_defaults_to_100(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Won (upsell)", "kind": "won"},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        assert response.json()["probability"] == 100
        assert response.json()["position"] == 5

    async def test_a_name_the_pipeline_has_in_any_case_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Proposal", "probability": 30},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_an_open_stage_without_probability_is_a_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)

        response = await gateway.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Maybe"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "probability")


class TestEditStage:
    async def test_a_stage_can_be_renamed_and_its_probability_changed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}",
            json={"name": "Proposal sent", "probability": 45},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json() == {**proposal, "name": "Proposal sent", "probability": 45}

    async def test_a_new_stage_probability_applies_to_its_deals_without_their_own(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        lead = stage_named(pipeline, "lead")
        client_id = await create_crm_client(platform, agency)
        plain = await create_deal(gateway, agency, client_id)
        own = await create_deal(gateway, agency, client_id, probability=33)

        await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{lead['id']}",
            json={"probability": 15},
            headers=agency.headers,
        )

        plain_now = (await gateway.get(f"/v1/deals/{plain['id']}", headers=agency.headers)).json()
        own_now = (await gateway.get(f"/v1/deals/{own['id']}", headers=agency.headers)).json()
        assert plain_now["probability"] == 15
        assert own_now["probability"] == 33

    async def test_renaming_to_another_stages_name_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}",
            json={"name": "LEAD"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_the_kind_of_an_empty_stage_can_change_while_each_kind_remains(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        negotiation = stage_named(pipeline, "negotiation")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{negotiation['id']}",
            json={"kind": "won"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "won"

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_changing_the_kind_of_the_last_won_or_lost_stage_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession, stage: str
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        target = stage_named(pipeline, stage)

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{target['id']}",
            json={"kind": "open"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")
        assert shape(await default_pipeline(gateway, agency)) == DEFAULT_STAGES

    async def test_changing_the_kind_of_the_last_open_stage_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await create_pipeline(
            gateway,
            agency,
            stages=[
                {"name": "Only", "probability": 50},
                {"name": "Won", "kind": "won"},
                {"name": "Lost", "kind": "lost"},
            ],
        )
        only = stage_named(pipeline, "Only")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{only['id']}",
            json={"kind": "lost"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_the_kind_of_a_stage_with_deals_cannot_change(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        negotiation = stage_named(pipeline, "negotiation")
        client_id = await create_crm_client(platform, agency)
        await create_deal(gateway, agency, client_id, stage="negotiation")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{negotiation['id']}",
            json={"kind": "won"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({"probability": -1}, "probability", id="negative-probability"),
            pytest.param({"probability": None}, "probability", id="null-probability"),
            pytest.param({"name": ""}, "name", id="empty-name"),
            pytest.param({"kind": "pending"}, "kind", id="unknown-kind"),
            pytest.param({"position": 2}, "position", id="position-is-not-edited-here"),
        ],
    )
    async def test_bad_edits_are_a_422_naming_the_field(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        body: dict[str, Any],
        field: str,
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        lead = stage_named(pipeline, "lead")

        response = await gateway.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{lead['id']}", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)


class TestReorderStages:
    async def test_the_full_list_of_ids_sets_the_new_order(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        ids = [s["id"] for s in pipeline["stages"]]
        new_order = [ids[2], ids[0], ids[1], ids[4], ids[3]]

        response = await gateway.put(
            f"/v1/pipelines/{pipeline['id']}/stages/order",
            json={"stage_ids": new_order},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert [s["id"] for s in response.json()["stages"]] == new_order
        assert [s["position"] for s in response.json()["stages"]] == [0, 1, 2, 3, 4]
        again = await default_pipeline(gateway, agency)
        assert [s["name"] for s in again["stages"]] == [
            "negotiation",
            "lead",
            "proposal",
            "lost",
            "won",
        ]

    @pytest.mark.parametrize("case", ["missing-one", "duplicated", "foreign-id"])
    async def test_anything_but_every_stage_once_is_a_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, case: str
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        ids = [s["id"] for s in pipeline["stages"]]
        stage_ids = {
            "missing-one": ids[:-1],
            "duplicated": [*ids, ids[0]],
            "foreign-id": [*ids[:-1], str(uuid.uuid4())],
        }[case]

        response = await gateway.put(
            f"/v1/pipelines/{pipeline['id']}/stages/order",
            json={"stage_ids": stage_ids},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage_ids")
        assert shape(await default_pipeline(gateway, agency)) == DEFAULT_STAGES


class TestDeleteStage:
    async def test_an_empty_stage_is_deleted_and_the_others_close_ranks(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await gateway.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}", headers=agency.headers
        )

        assert response.status_code == 204, response.text
        after = await default_pipeline(gateway, agency)
        assert [s["name"] for s in after["stages"]] == ["lead", "negotiation", "won", "lost"]
        assert [s["position"] for s in after["stages"]] == [0, 1, 2, 3]

    async def test_a_stage_with_deals_is_a_409(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        proposal = stage_named(pipeline, "proposal")
        client_id = await create_crm_client(platform, agency)
        await create_deal(gateway, agency, client_id, stage="proposal")

        response = await gateway.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")
        assert shape(await default_pipeline(gateway, agency)) == DEFAULT_STAGES

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_the_last_won_or_lost_stage_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession, stage: str
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        target = stage_named(pipeline, stage)

        response = await gateway.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{target['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")

    async def test_the_last_open_stage_is_a_409(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        pipeline = await default_pipeline(gateway, agency)
        for name in ("lead", "proposal"):
            stage = stage_named(pipeline, name)
            deleted = await gateway.delete(
                f"/v1/pipelines/{pipeline['id']}/stages/{stage['id']}", headers=agency.headers
            )
            assert deleted.status_code == 204, deleted.text
        last_open = stage_named(pipeline, "negotiation")

        response = await gateway.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{last_open['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")


class TestPermissions:
    async def test_a_member_reads_pipelines_but_may_not_change_them(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        pipeline = await default_pipeline(gateway, member)
        lead = stage_named(pipeline, "lead")
        base = f"/v1/pipelines/{pipeline['id']}"

        answers = [
            await gateway.post(
                "/v1/pipelines",
                json={"name": "No", "stages": [{"name": "x", "kind": "won"}] * 3},
                headers=member.headers,
            ),
            await gateway.patch(base, json={"name": "No"}, headers=member.headers),
            await gateway.post(
                f"{base}/stages", json={"name": "x", "probability": 1}, headers=member.headers
            ),
            await gateway.patch(
                f"{base}/stages/{lead['id']}", json={"probability": 1}, headers=member.headers
            ),
            await gateway.delete(f"{base}/stages/{lead['id']}", headers=member.headers),
            await gateway.put(
                f"{base}/stages/order",
                json={"stage_ids": [s["id"] for s in pipeline["stages"]]},
                headers=member.headers,
            ),
        ]

        for response in answers:
            body = assert_problem(response, 403, "permission-denied")
            assert "deals.write" in body["detail"]
        assert shape(await default_pipeline(gateway, agency)) == DEFAULT_STAGES

    async def test_a_manager_may_edit_pipelines(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        created = await create_pipeline(gateway, manager)

        assert created["name"].startswith("Pipeline")

    async def test_a_client_user_may_not_read_pipelines(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")

        response = await gateway.get("/v1/pipelines", headers=client_user.headers)

        assert_problem(response, 403, "permission-denied")


class TestTenantIsolation:
    async def test_another_agencys_pipeline_is_a_404_on_every_route(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        theirs = await default_pipeline(gateway, other_agency)
        their_stage = theirs["stages"][0]["id"]
        me = agency.headers
        for pipeline_id, stage_id in (
            (theirs["id"], their_stage),
            (str(uuid.uuid4()), str(uuid.uuid4())),
        ):
            base = f"/v1/pipelines/{pipeline_id}"
            answers = [
                await gateway.get(base, headers=me),
                await gateway.patch(base, json={"name": "Mine now"}, headers=me),
                await gateway.post(
                    f"{base}/stages", json={"name": "x", "probability": 1}, headers=me
                ),
                await gateway.patch(
                    f"{base}/stages/{stage_id}", json={"probability": 1}, headers=me
                ),
                await gateway.delete(f"{base}/stages/{stage_id}", headers=me),
                await gateway.put(
                    f"{base}/stages/order", json={"stage_ids": [stage_id]}, headers=me
                ),
            ]
            for response in answers:
                assert_problem(response, 404, "not-found")
        assert shape(await default_pipeline(gateway, other_agency)) == DEFAULT_STAGES
        assert (await default_pipeline(gateway, other_agency))["name"] == "Sales"

    async def test_another_agencys_stage_in_my_pipeline_path_is_a_404(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        mine = await default_pipeline(gateway, agency)
        their_stage = (await default_pipeline(gateway, other_agency))["stages"][0]["id"]
        base = f"/v1/pipelines/{mine['id']}/stages/{their_stage}"

        patched = await gateway.patch(base, json={"name": "x"}, headers=agency.headers)
        deleted = await gateway.delete(base, headers=agency.headers)

        assert_problem(patched, 404, "not-found")
        assert_problem(deleted, 404, "not-found")

    async def test_a_stage_of_my_other_pipeline_is_a_404_under_this_one(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        default = await default_pipeline(gateway, agency)
        other = await create_pipeline(gateway, agency)

        response = await gateway.patch(
            f"/v1/pipelines/{default['id']}/stages/{other['stages'][0]['id']}",
            json={"probability": 5},
            headers=agency.headers,
        )

        assert_problem(response, 404, "not-found")

    async def test_another_agency_lists_only_its_own_pipelines(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await create_pipeline(gateway, agency)

        theirs = await pipelines_of(gateway, other_agency)

        assert [p["name"] for p in theirs] == ["Sales"]
