"""The client's projects, one project's client-visible tasks and deliverables, and feedback
turned into a task the client then sees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import InProcess

# What a client user may read of a project; nothing else (rates, budget, billing, members).
PROJECT_FIELDS = {"id", "name", "status", "progress", "start_date", "deadline", "next_milestone"}
MILESTONE_FIELDS = {"id", "name", "due_date", "status", "completed_at"}


class TestProjectList:
    async def test_lists_the_clients_projects_with_progress_and_nothing_internal(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        in_process.standins.work.projects[(scene.agency.id, scene.x.project_id)].progress = 40

        response = await portal.get("/v1/portal/projects", headers=scene.x.user.headers)

        assert response.status_code == 200, response.text
        [project] = response.json()["items"]
        assert set(project) == PROJECT_FIELDS
        assert project["name"] == "X website"
        assert project["progress"] == 40
        assert project["status"] == "active"

    async def test_a_client_without_projects_gets_an_empty_list(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        newcomer = scene.agency.caller("client")

        response = await portal.get("/v1/portal/projects", headers=newcomer.headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"items": []}


class TestProjectDetail:
    async def test_shows_only_client_visible_tasks_and_submitted_deliverables(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        in_process.standins.work.add_deliverable(
            scene.agency.id, scene.x.project_id, title="X draft", status="draft"
        )

        response = await portal.get(
            f"/v1/portal/projects/{scene.x.project_id}", headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == PROJECT_FIELDS | {"tasks", "deliverables", "milestones", "files"}
        assert [t["id"] for t in body["tasks"]] == [str(scene.x.visible_task_id)]
        assert set(body["tasks"][0]) == {"id", "project_id", "title", "status", "due_date"}
        assert body["tasks"][0]["title"] == "X homepage"
        assert [(d["id"], d["status"]) for d in body["deliverables"]] == [
            (str(scene.x.deliverable_id), "submitted")
        ]
        assert "internal" not in response.text

    async def test_shows_the_milestones_by_due_date_without_amounts_in_one_call(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        work = in_process.standins.work
        agency, project_id = scene.agency.id, scene.x.project_id
        work.add_milestone(agency, project_id, name="Launch")
        work.add_milestone(agency, project_id, name="Design", due_date="2027-02-01")
        work.add_milestone(
            agency, project_id, name="Discovery", due_date="2026-11-01", status="completed"
        )
        work.add_milestone(agency, scene.y.project_id, name="Y's milestone")
        work.calls.clear()

        response = await portal.get(
            f"/v1/portal/projects/{project_id}", headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert [(m["name"], m["due_date"], m["status"]) for m in body["milestones"]] == [
            ("Discovery", "2026-11-01", "completed"),
            ("Design", "2027-02-01", "open"),
            ("Launch", None, "open"),
        ]
        assert all(set(m) == MILESTONE_FIELDS for m in body["milestones"])
        assert body["milestones"][0]["completed_at"] is not None
        assert body["next_milestone"]["name"] == "Design"
        assert "Y's milestone" not in response.text
        # the whole page is one call to work (the issue allows a portal page three)
        assert work.calls == ["GetClientProjectView"]

    async def test_an_unknown_project_is_404(self, portal: httpx.AsyncClient, scene: Any) -> None:
        response = await portal.get(
            f"/v1/portal/projects/{scene.x.visible_task_id}", headers=scene.x.user.headers
        )

        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "no such project"

    async def test_a_malformed_id_is_422_naming_it(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        response = await portal.get("/v1/portal/projects/not-a-uuid", headers=scene.x.user.headers)

        assert response.status_code == 422, response.text
        assert "project_id" in response.text


class TestFeedback:
    async def test_feedback_becomes_a_task_the_client_then_sees(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        message = "The logo is blurry on phones\n\nSeen on an old Android phone."

        response = await portal.post(
            "/v1/portal/feedback",
            json={"project_id": str(scene.x.project_id), "message": message},
            headers=scene.x.user.headers,
        )

        assert response.status_code == 201, response.text
        task = response.json()
        assert task["title"] == "The logo is blurry on phones"
        assert task["status"] == "todo"
        assert task["project_id"] == str(scene.x.project_id)
        [(author, request)] = in_process.standins.work.feedback
        assert author == scene.x.user.user_id
        assert request.description == message
        project = await portal.get(
            f"/v1/portal/projects/{scene.x.project_id}", headers=scene.x.user.headers
        )
        assert task["id"] in [t["id"] for t in project.json()["tasks"]]

    async def test_a_long_first_line_is_cut_to_a_title(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        response = await portal.post(
            "/v1/portal/feedback",
            json={"project_id": str(scene.x.project_id), "message": "word " * 200},
            headers=scene.x.user.headers,
        )

        assert response.status_code == 201, response.text
        assert len(response.json()["title"]) <= 300
        assert response.json()["title"].endswith("…")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"project_id": "{project}", "message": "   "}, "message"),
            ({"project_id": "{project}"}, "message"),
            ({"project_id": "{project}", "message": "x" * 50_001}, "message"),
            ({"project_id": "nope", "message": "Hello"}, "project_id"),
            ({"project_id": "{project}", "message": "Hi", "visible_to_client": False}, "visible"),
            ({"project_id": "{project}", "message": "bell \x07"}, "message"),
        ],
        ids=["blank", "missing", "too-long", "bad-project-id", "unknown-field", "control-char"],
    )
    async def test_bad_bodies_are_422_naming_the_field(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        scene: Any,
        body: dict[str, Any],
        field: str,
    ) -> None:
        filled = {
            k: v.format(project=scene.x.project_id) if isinstance(v, str) else v
            for k, v in body.items()
        }

        response = await portal.post(
            "/v1/portal/feedback", json=filled, headers=scene.x.user.headers
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in response.text
        assert in_process.standins.work.feedback == []
