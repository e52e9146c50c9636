"""Pipelines: the default one every agency gets (made once, when a route first needs it),
creating and renaming pipelines, who may change them, and tenant isolation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess
from agencyos.testing.sql import fetch_rows

DEFAULT_STAGES = [
    ("lead", "open", 10),
    ("proposal", "open", 40),
    ("negotiation", "open", 70),
    ("won", "won", 100),
    ("lost", "lost", 0),
]


async def pipelines_of(crm: httpx.AsyncClient, who: Caller) -> list[dict[str, Any]]:
    response = await crm.get("/v1/pipelines", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def default_pipeline(crm: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    return next(p for p in await pipelines_of(crm, who) if p["is_default"])


def shape(pipeline: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(s["name"], s["kind"], s["probability"]) for s in pipeline["stages"]]


def stage_named(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["name"] == name)


async def create_pipeline(crm: httpx.AsyncClient, who: Caller, **overrides: Any) -> dict[str, Any]:
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
    response = await crm.post("/v1/pipelines", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def crm_rows(crm_service: ServiceInProcess, who: Caller, query: str) -> list[Any]:
    return await fetch_rows(
        crm_service.infra, crm_service.database, query, tenant_id=who.agency_id, owner=True
    )


class TestDefaultPipeline:
    async def test_the_api_lists_the_default_pipeline_with_its_stages_in_order(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        page = (await crm.get("/v1/pipelines", headers=agency.headers)).json()

        assert page["total"] == 1
        (pipeline,) = page["items"]
        assert pipeline["name"] == "Sales"
        assert pipeline["is_default"] is True
        assert shape(pipeline) == DEFAULT_STAGES
        assert [s["position"] for s in pipeline["stages"]] == [0, 1, 2, 3, 4]
        assert {s["pipeline_id"] for s in pipeline["stages"]} == {pipeline["id"]}

    async def test_an_agency_without_a_pipeline_gets_exactly_one_from_concurrent_requests(
        self, crm_service: ServiceInProcess, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        # A made-up agency has had no identity.agency.created handled: like an agency from
        # before pipelines existed, its default pipeline is made lazily.
        assert await crm_rows(crm_service, agency, "SELECT id FROM pipelines") == []

        answers = await asyncio.gather(
            *(crm.get("/v1/pipelines", headers=agency.headers) for _ in range(6))
        )

        assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
        assert len({r.json()["items"][0]["id"] for r in answers}) == 1
        assert len(await crm_rows(crm_service, agency, "SELECT id FROM pipelines")) == 1
        assert len(await crm_rows(crm_service, agency, "SELECT id FROM stages")) == 5


class TestCreatePipeline:
    async def test_a_pipeline_is_created_with_its_stages_in_the_order_given(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
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
        fetched = await crm.get(f"/v1/pipelines/{pipeline['id']}", headers=agency.headers)
        assert fetched.json() == pipeline

    async def test_the_list_shows_the_default_pipeline_first(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await create_pipeline(crm, agency)

        pipelines = await pipelines_of(crm, agency)

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
        crm: httpx.AsyncClient,
        agency: Caller,
        stages: list[dict[str, Any]],
        field: str,
    ) -> None:
        response = await crm.post(
            "/v1/pipelines", json={"name": "Bad", "stages": stages}, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_a_blank_name_is_a_422_naming_it(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/pipelines",
            json={"name": "  ", "stages": [{"name": "x", "kind": "won"}] * 3},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "name")


class TestRenamePipeline:
    async def test_a_pipeline_can_be_renamed(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}", json={"name": "New business"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == "New business"
        assert response.json()["stages"] == pipeline["stages"]
        assert (await default_pipeline(crm, agency))["name"] == "New business"

    async def test_renaming_to_a_blank_name_is_a_422(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}", json={"name": ""}, headers=agency.headers
        )

        assert_invalid_fields(response, "name")


class TestPermissions:
    async def test_a_member_reads_pipelines_but_may_not_change_them(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")
        pipeline = await default_pipeline(crm, member)
        lead = stage_named(pipeline, "lead")
        base = f"/v1/pipelines/{pipeline['id']}"

        answers = [
            await crm.post(
                "/v1/pipelines",
                json={"name": "No", "stages": [{"name": "x", "kind": "won"}] * 3},
                headers=member.headers,
            ),
            await crm.patch(base, json={"name": "No"}, headers=member.headers),
            await crm.post(
                f"{base}/stages", json={"name": "x", "probability": 1}, headers=member.headers
            ),
            await crm.patch(
                f"{base}/stages/{lead['id']}", json={"probability": 1}, headers=member.headers
            ),
            await crm.delete(f"{base}/stages/{lead['id']}", headers=member.headers),
            await crm.put(
                f"{base}/stages/order",
                json={"stage_ids": [s["id"] for s in pipeline["stages"]]},
                headers=member.headers,
            ),
        ]

        for response in answers:
            body = assert_problem(response, 403, "permission-denied")
            assert "deals.write" in body["detail"]
        assert shape(await default_pipeline(crm, agency)) == DEFAULT_STAGES

    async def test_a_manager_may_edit_pipelines(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")

        created = await create_pipeline(crm, manager)

        assert created["name"].startswith("Pipeline")

    async def test_a_client_user_may_not_read_pipelines(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")

        response = await crm.get("/v1/pipelines", headers=client_user.headers)

        assert_problem(response, 403, "permission-denied")


class TestTenantIsolation:
    async def test_another_agencys_pipeline_is_a_404_on_every_route(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        theirs = await default_pipeline(crm, other_agency)
        their_stage = theirs["stages"][0]["id"]
        me = agency.headers
        for pipeline_id, stage_id in (
            (theirs["id"], their_stage),
            (str(uuid.uuid4()), str(uuid.uuid4())),
        ):
            base = f"/v1/pipelines/{pipeline_id}"
            answers = [
                await crm.get(base, headers=me),
                await crm.patch(base, json={"name": "Mine now"}, headers=me),
                await crm.post(f"{base}/stages", json={"name": "x", "probability": 1}, headers=me),
                await crm.patch(f"{base}/stages/{stage_id}", json={"probability": 1}, headers=me),
                await crm.delete(f"{base}/stages/{stage_id}", headers=me),
                await crm.put(f"{base}/stages/order", json={"stage_ids": [stage_id]}, headers=me),
            ]
            for response in answers:
                assert_problem(response, 404, "not-found")
        assert shape(await default_pipeline(crm, other_agency)) == DEFAULT_STAGES
        assert (await default_pipeline(crm, other_agency))["name"] == "Sales"

    async def test_another_agencys_stage_in_my_pipeline_path_is_a_404(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        mine = await default_pipeline(crm, agency)
        their_stage = (await default_pipeline(crm, other_agency))["stages"][0]["id"]
        base = f"/v1/pipelines/{mine['id']}/stages/{their_stage}"

        patched = await crm.patch(base, json={"name": "x"}, headers=agency.headers)
        deleted = await crm.delete(base, headers=agency.headers)

        assert_problem(patched, 404, "not-found")
        assert_problem(deleted, 404, "not-found")

    async def test_a_stage_of_my_other_pipeline_is_a_404_under_this_one(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        default = await default_pipeline(crm, agency)
        other = await create_pipeline(crm, agency)

        response = await crm.patch(
            f"/v1/pipelines/{default['id']}/stages/{other['stages'][0]['id']}",
            json={"probability": 5},
            headers=agency.headers,
        )

        assert_problem(response, 404, "not-found")

    async def test_another_agency_lists_only_its_own_pipelines(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        await create_pipeline(crm, agency)

        theirs = await pipelines_of(crm, other_agency)

        assert [p["name"] for p in theirs] == ["Sales"]
