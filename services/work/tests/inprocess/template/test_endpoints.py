"""Project templates through work's API: create, read, list, update, delete; the shape
rules (422 naming the field); one default per agency, switched atomically; permissions and
another agency's templates answering 404."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

TEMPLATE: dict[str, Any] = {
    "description": "Discovery to launch",
    "billing_type": "fixed",
    "columns": [
        {"name": "Backlog", "color": "#aabbcc", "status": "todo"},
        {"name": "Doing", "status": "in_progress"},
        {"name": "Done", "color": "#10B981", "status": "done"},
    ],
    "tasks": [
        {
            "title": "Kick-off",
            "description": "Agenda *here*",
            "priority": "high",
            "due_offset_days": 2,
            "estimate_hours": 1.5,
            "labels": ["discovery", "client"],
            "milestone": "Discovery",
            "visible_to_client": True,
        },
        {"title": "Build", "status": "in_progress"},
    ],
    "milestones": [{"name": "Discovery", "due_offset_days": 5, "amount_cents": 100_000}],
}


async def create_template(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/project-templates/{response.json()['id']}"
    template: dict[str, Any] = response.json()
    return template


async def get_template(work: httpx.AsyncClient, who: Caller, template_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/project-templates/{template_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    template: dict[str, Any] = response.json()
    return template


async def patch_template(
    work: httpx.AsyncClient, who: Caller, template_id: str, **fields: Any
) -> httpx.Response:
    return await work.patch(
        f"/v1/project-templates/{template_id}", json=fields, headers=who.headers
    )


async def all_templates(
    work: httpx.AsyncClient, who: Caller, **params: Any
) -> list[dict[str, Any]]:
    response = await work.get("/v1/project-templates", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def defaults(work: httpx.AsyncClient, who: Caller) -> list[str]:
    return [t["id"] for t in await all_templates(work, who) if t["is_default"]]


class TestTemplateCrud:
    async def test_a_template_is_stored_as_sent_with_defaults_filled_in(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        template = await create_template(work, agency, name=" Website ", **TEMPLATE)

        assert template["name"] == "Website"
        assert (template["billing_type"], template["is_default"]) == ("fixed", False)
        assert template["columns"][1] == {
            "name": "Doing",
            "color": "#9CA3AF",
            "status": "in_progress",
        }
        assert template["tasks"][0] == {**TEMPLATE["tasks"][0], "status": "todo"}
        assert template["tasks"][1] == {
            "title": "Build",
            "description": None,
            "status": "in_progress",
            "priority": "medium",
            "due_offset_days": None,
            "estimate_hours": None,
            "labels": [],
            "milestone": None,
            "visible_to_client": False,
        }
        assert template["milestones"] == TEMPLATE["milestones"]
        assert template["created_by"] == str(agency.user_id)
        assert await get_template(work, agency, template["id"]) == template

    async def test_without_columns_a_template_has_the_default_board(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        template = await create_template(work, agency)

        assert [(c["name"], c["status"]) for c in template["columns"]] == [
            ("To do", "todo"),
            ("In progress", "in_progress"),
            ("Review", "review"),
            ("Done", "done"),
        ]
        assert (template["tasks"], template["milestones"]) == ([], [])
        assert template["billing_type"] == "hourly"

    async def test_listing_searches_sorts_and_pages(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        for name in ("Retainer", "website small", "Website large"):
            await create_template(work, agency, name=name)

        assert [t["name"] for t in await all_templates(work, agency)] == [
            "Retainer",
            "Website large",
            "website small",
        ]
        assert [t["name"] for t in await all_templates(work, agency, q="WEBSITE")] == [
            "Website large",
            "website small",
        ]
        assert [t["name"] for t in await all_templates(work, agency, sort="-created_at")] == [
            "Website large",
            "website small",
            "Retainer",
        ]
        response = await work.get(
            "/v1/project-templates", params={"per_page": 2, "page": 2}, headers=agency.headers
        )
        assert response.json()["total"] == 3
        assert [t["name"] for t in response.json()["items"]] == ["website small"]

    async def test_patch_changes_only_what_is_sent_and_replaces_lists_whole(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        template = await create_template(work, agency, **TEMPLATE)

        response = await patch_template(
            work,
            agency,
            template["id"],
            name="Renamed",
            description=None,
            tasks=[{"title": "Only task", "milestone": "Discovery"}],
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert (updated["name"], updated["description"]) == ("Renamed", None)
        assert [t["title"] for t in updated["tasks"]] == ["Only task"]
        assert updated["columns"] == template["columns"]
        assert updated["milestones"] == template["milestones"]
        assert updated["billing_type"] == "fixed"
        assert await get_template(work, agency, template["id"]) == updated

    async def test_deleting_removes_the_template(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        template = await create_template(work, agency, is_default=True)

        response = await work.delete(
            f"/v1/project-templates/{template['id']}", headers=agency.headers
        )

        assert response.status_code == 204
        assert_problem(
            await work.get(f"/v1/project-templates/{template['id']}", headers=agency.headers),
            404,
            "not-found",
        )
        project = await work.post(
            "/v1/projects", json={"name": "After delete"}, headers=agency.headers
        )
        assert project.status_code == 201, project.text
        assert project.json()["template_id"] is None


class TestTemplateValidation:
    @pytest.mark.parametrize(
        ("fields", "invalid"),
        [
            ({"name": ""}, {"name"}),
            ({"billing_type": "barter"}, {"billing_type"}),
            ({"columns": []}, {"columns"}),
            ({"columns": [{"name": "A", "status": "blocked"}]}, {"columns.0.status"}),
            ({"columns": [{"name": "A", "status": "todo", "color": "red"}]}, {"columns.0.color"}),
            ({"columns": [{"status": "todo"}]}, {"columns.0.name"}),
            ({"tasks": [{"title": " "}]}, {"tasks.0.title"}),
            ({"tasks": [{"title": "a", "priority": "asap"}]}, {"tasks.0.priority"}),
            ({"tasks": [{"title": "a", "due_offset_days": -1}]}, {"tasks.0.due_offset_days"}),
            ({"tasks": [{"title": "a", "estimate_hours": -2}]}, {"tasks.0.estimate_hours"}),
            ({"tasks": [{"title": "a", "labels": [""]}]}, {"tasks.0.labels.0"}),
            ({"tasks": [{"title": "a", "owner": "me"}]}, {"tasks.0.owner"}),
            ({"milestones": [{"name": "M", "amount_cents": -5}]}, {"milestones.0.amount_cents"}),
            ({"unknown": 1}, {"unknown"}),
            (
                {
                    "tasks": [
                        {"title": "a", "milestone": "Design"},
                        {"title": "b"},
                        {"title": "c", "milestone": "Launch"},
                    ],
                    "milestones": [{"name": "Design"}],
                },
                {"tasks.2.milestone"},
            ),
            (
                {"milestones": [{"name": "Design"}, {"name": "Build"}, {"name": "Design"}]},
                {"milestones.2.name"},
            ),
            (
                {
                    "columns": [{"name": "Todo", "status": "todo"}],
                    "tasks": [{"title": "a"}, {"title": "b", "status": "review"}],
                },
                {"tasks.1.status"},
            ),
        ],
    )
    async def test_bad_templates_answer_422_naming_the_field(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        fields: dict[str, Any],
        invalid: set[str],
    ) -> None:
        response = await work.post(
            "/v1/project-templates", json={"name": "T", **fields}, headers=agency.headers
        )

        assert_invalid_fields(response, *invalid)
        assert await all_templates(work, agency) == []

    async def test_a_patch_is_checked_against_what_it_does_not_change(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        template = await create_template(work, agency, **TEMPLATE)

        no_milestones = await patch_template(work, agency, template["id"], milestones=[])
        no_review = await patch_template(
            work, agency, template["id"], columns=[{"name": "Todo", "status": "todo"}]
        )
        nulls = await patch_template(work, agency, template["id"], name=None, columns=None)

        assert_invalid_fields(no_milestones, "tasks.0.milestone")
        assert_invalid_fields(no_review, "tasks.1.status")
        assert_invalid_fields(nulls, "name", "columns")
        assert await get_template(work, agency, template["id"]) == template


class TestDefaultTemplate:
    async def test_making_a_template_the_default_unmarks_the_previous_one(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        first = await create_template(work, agency, is_default=True)
        second = await create_template(work, agency, is_default=True)

        assert await defaults(work, agency) == [second["id"]]
        assert (await get_template(work, agency, first["id"]))["is_default"] is False

        response = await patch_template(work, agency, first["id"], is_default=True)

        assert response.status_code == 200, response.text
        assert response.json()["is_default"] is True
        assert await defaults(work, agency) == [first["id"]]

        response = await patch_template(work, agency, first["id"], is_default=False)

        assert response.json()["is_default"] is False
        assert await defaults(work, agency) == []

    async def test_each_agency_has_its_own_default(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        ours = await create_template(work, agency, is_default=True)
        theirs = await create_template(work, other_agency, is_default=True)

        assert await defaults(work, agency) == [ours["id"]]
        assert await defaults(work, other_agency) == [theirs["id"]]


class TestTemplateAccess:
    async def test_a_member_reads_templates_but_cannot_write_them(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        template = await create_template(work, agency)
        url = f"/v1/project-templates/{template['id']}"

        assert await get_template(work, member, template["id"]) == template
        assert [t["id"] for t in await all_templates(work, member)] == [template["id"]]
        for response in (
            await work.post("/v1/project-templates", json={"name": "x"}, headers=member.headers),
            await work.patch(url, json={"name": "x"}, headers=member.headers),
            await work.delete(url, headers=member.headers),
        ):
            assert_problem(response, 403, "permission-denied")

    async def test_a_client_user_cannot_read_templates(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        template = await create_template(work, agency)

        for path in ("/v1/project-templates", f"/v1/project-templates/{template['id']}"):
            response = await work.get(path, headers=client_user.headers)
            assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may_write_templates(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")

        template = await create_template(work, manager, is_default=True)

        assert template["created_by"] == str(manager.user_id)
        assert await defaults(work, agency) == [template["id"]]

    async def test_another_agencys_template_answers_404_on_every_route(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        theirs = await create_template(work, other_agency, is_default=True)
        url = f"/v1/project-templates/{theirs['id']}"

        for response in (
            await work.get(url, headers=agency.headers),
            await work.patch(url, json={"name": "Mine"}, headers=agency.headers),
            await work.patch(url, json={"is_default": False}, headers=agency.headers),
            await work.delete(url, headers=agency.headers),
        ):
            assert_problem(response, 404, "not-found")
        assert await all_templates(work, agency) == []
        assert await get_template(work, other_agency, theirs["id"]) == theirs
