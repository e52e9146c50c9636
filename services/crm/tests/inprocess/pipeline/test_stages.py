"""A pipeline's stages: adding, editing (names unique in any case, the probability applying to
deals without their own, the kind kept while each kind remains), reordering and deleting."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Caller

DEFAULT_STAGES = [
    ("lead", "open", 10),
    ("proposal", "open", 40),
    ("negotiation", "open", 70),
    ("won", "won", 100),
    ("lost", "lost", 0),
]


async def default_pipeline(crm: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await crm.get("/v1/pipelines", headers=who.headers)
    assert response.status_code == 200, response.text
    pipeline: dict[str, Any] = next(p for p in response.json()["items"] if p["is_default"])
    return pipeline


def shape(pipeline: dict[str, Any]) -> list[tuple[str, str, int]]:
    return [(s["name"], s["kind"], s["probability"]) for s in pipeline["stages"]]


def stage_named(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in pipeline["stages"] if s["name"] == name)


async def create_pipeline(crm: httpx.AsyncClient, who: Caller, **overrides: Any) -> dict[str, Any]:
    body = {"name": f"Pipeline {uuid.uuid4().hex[:6]}", **overrides}
    response = await crm.post("/v1/pipelines", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def new_client_id(crm: httpx.AsyncClient, who: Caller) -> str:
    return str((await create_client(crm, who))["id"])


async def create_deal(
    crm: httpx.AsyncClient, who: Caller, client_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": "A deal", "client_id": client_id, "currency": "EUR", **fields}
    response = await crm.post("/v1/deals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestAddStage:
    async def test_a_stage_is_added_at_the_position_given(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.post(
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
        after = await default_pipeline(crm, agency)
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
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Won (upsell)", "kind": "won"},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        assert response.json()["probability"] == 100
        assert response.json()["position"] == 5

    async def test_a_name_the_pipeline_has_in_any_case_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Proposal", "probability": 30},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_an_open_stage_without_probability_is_a_422(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)

        response = await crm.post(
            f"/v1/pipelines/{pipeline['id']}/stages",
            json={"name": "Maybe"},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "probability")


class TestEditStage:
    async def test_a_stage_can_be_renamed_and_its_probability_changed(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}",
            json={"name": "Proposal sent", "probability": 45},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json() == {**proposal, "name": "Proposal sent", "probability": 45}

    async def test_a_new_stage_probability_applies_to_its_deals_without_their_own(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        lead = stage_named(pipeline, "lead")
        client_id = await new_client_id(crm, agency)
        plain = await create_deal(crm, agency, client_id)
        own = await create_deal(crm, agency, client_id, probability=33)

        await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{lead['id']}",
            json={"probability": 15},
            headers=agency.headers,
        )

        plain_now = (await crm.get(f"/v1/deals/{plain['id']}", headers=agency.headers)).json()
        own_now = (await crm.get(f"/v1/deals/{own['id']}", headers=agency.headers)).json()
        assert plain_now["probability"] == 15
        assert own_now["probability"] == 33

    async def test_renaming_to_another_stages_name_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}",
            json={"name": "LEAD"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_the_kind_of_an_empty_stage_can_change_while_each_kind_remains(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        negotiation = stage_named(pipeline, "negotiation")

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{negotiation['id']}",
            json={"kind": "won"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["kind"] == "won"

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_changing_the_kind_of_the_last_won_or_lost_stage_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller, stage: str
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        target = stage_named(pipeline, stage)

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{target['id']}",
            json={"kind": "open"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")
        assert shape(await default_pipeline(crm, agency)) == DEFAULT_STAGES

    async def test_changing_the_kind_of_the_last_open_stage_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await create_pipeline(
            crm,
            agency,
            stages=[
                {"name": "Only", "probability": 50},
                {"name": "Won", "kind": "won"},
                {"name": "Lost", "kind": "lost"},
            ],
        )
        only = stage_named(pipeline, "Only")

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{only['id']}",
            json={"kind": "lost"},
            headers=agency.headers,
        )

        assert_problem(response, 409, "conflict")

    async def test_the_kind_of_a_stage_with_deals_cannot_change(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        negotiation = stage_named(pipeline, "negotiation")
        client_id = await new_client_id(crm, agency)
        await create_deal(crm, agency, client_id, stage="negotiation")

        response = await crm.patch(
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
        crm: httpx.AsyncClient,
        agency: Caller,
        body: dict[str, Any],
        field: str,
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        lead = stage_named(pipeline, "lead")

        response = await crm.patch(
            f"/v1/pipelines/{pipeline['id']}/stages/{lead['id']}", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)


class TestReorderStages:
    async def test_the_full_list_of_ids_sets_the_new_order(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        ids = [s["id"] for s in pipeline["stages"]]
        new_order = [ids[2], ids[0], ids[1], ids[4], ids[3]]

        response = await crm.put(
            f"/v1/pipelines/{pipeline['id']}/stages/order",
            json={"stage_ids": new_order},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert [s["id"] for s in response.json()["stages"]] == new_order
        assert [s["position"] for s in response.json()["stages"]] == [0, 1, 2, 3, 4]
        again = await default_pipeline(crm, agency)
        assert [s["name"] for s in again["stages"]] == [
            "negotiation",
            "lead",
            "proposal",
            "lost",
            "won",
        ]

    @pytest.mark.parametrize("case", ["missing-one", "duplicated", "foreign-id"])
    async def test_anything_but_every_stage_once_is_a_422(
        self, crm: httpx.AsyncClient, agency: Caller, case: str
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        ids = [s["id"] for s in pipeline["stages"]]
        stage_ids = {
            "missing-one": ids[:-1],
            "duplicated": [*ids, ids[0]],
            "foreign-id": [*ids[:-1], str(uuid.uuid4())],
        }[case]

        response = await crm.put(
            f"/v1/pipelines/{pipeline['id']}/stages/order",
            json={"stage_ids": stage_ids},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "stage_ids")
        assert shape(await default_pipeline(crm, agency)) == DEFAULT_STAGES


class TestDeleteStage:
    async def test_an_empty_stage_is_deleted_and_the_others_close_ranks(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        proposal = stage_named(pipeline, "proposal")

        response = await crm.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}", headers=agency.headers
        )

        assert response.status_code == 204, response.text
        after = await default_pipeline(crm, agency)
        assert [s["name"] for s in after["stages"]] == ["lead", "negotiation", "won", "lost"]
        assert [s["position"] for s in after["stages"]] == [0, 1, 2, 3]

    async def test_a_stage_with_deals_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        proposal = stage_named(pipeline, "proposal")
        client_id = await new_client_id(crm, agency)
        await create_deal(crm, agency, client_id, stage="proposal")

        response = await crm.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{proposal['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")
        assert shape(await default_pipeline(crm, agency)) == DEFAULT_STAGES

    @pytest.mark.parametrize("stage", ["won", "lost"])
    async def test_the_last_won_or_lost_stage_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller, stage: str
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        target = stage_named(pipeline, stage)

        response = await crm.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{target['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")

    async def test_the_last_open_stage_is_a_409(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        pipeline = await default_pipeline(crm, agency)
        for name in ("lead", "proposal"):
            stage = stage_named(pipeline, name)
            deleted = await crm.delete(
                f"/v1/pipelines/{pipeline['id']}/stages/{stage['id']}", headers=agency.headers
            )
            assert deleted.status_code == 204, deleted.text
        last_open = stage_named(pipeline, "negotiation")

        response = await crm.delete(
            f"/v1/pipelines/{pipeline['id']}/stages/{last_open['id']}", headers=agency.headers
        )

        assert_problem(response, 409, "conflict")
