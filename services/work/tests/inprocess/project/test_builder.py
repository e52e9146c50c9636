"""Creating a project with everything it starts with: the default board, or a template's
(given or the agency's default) board, tasks and milestones with due dates from the start
date; a template of another agency is refused."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import httpx

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller

START = date(2026, 12, 1)
# The conftest's `work_rows`: rows of work's database under an agency's tenant.
WorkRows = Callable[..., Awaitable[list[Any]]]


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/projects/{response.json()['id']}"
    project: dict[str, Any] = response.json()
    return project


async def create_template(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


async def get_project(work: httpx.AsyncClient, who: Caller, project_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/projects/{project_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    project: dict[str, Any] = response.json()
    return project


async def list_projects(work: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await work.get("/v1/projects", headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def member_ids(project: dict[str, Any]) -> set[str]:
    return {m["user_id"] for m in project["members"]}


async def board_rows(
    work_rows: WorkRows, who: Caller, project_id: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """The project's columns, tasks and milestones as stored (what the board and task APIs
    serve), read under the agency's tenant."""

    async def rows(query: str) -> list[Any]:
        return await work_rows(who.agency_id, query, uuid.UUID(project_id))

    columns = await rows(
        "SELECT id, name, color, status, position FROM board_columns "
        "WHERE project_id = $1 ORDER BY position"
    )
    tasks = await rows(
        "SELECT t.title, t.status, t.priority, t.due_date, t.estimate_hours, t.labels, "
        "t.visible_to_client, t.column_id, m.name AS milestone FROM tasks t "
        "LEFT JOIN milestones m ON m.id = t.milestone_id WHERE t.project_id = $1 "
        "ORDER BY t.position, t.title"
    )
    milestones = await rows(
        "SELECT name, due_date, amount_cents, status FROM milestones WHERE project_id = $1 "
        "ORDER BY name"
    )
    return columns, tasks, milestones


WEBSITE_TEMPLATE: dict[str, Any] = {
    "billing_type": "fixed",
    "columns": [
        {"name": "Backlog", "color": "#111111", "status": "todo"},
        {"name": "Doing", "color": "#222222", "status": "in_progress"},
        {"name": "Shipped", "color": "#333333", "status": "done"},
    ],
    "tasks": [
        {
            "title": "Kick-off",
            "priority": "high",
            "due_offset_days": 3,
            "estimate_hours": 2.5,
            "labels": ["discovery"],
            "milestone": "Discovery",
            "visible_to_client": True,
        },
        {"title": "Wireframes", "status": "in_progress", "due_offset_days": 10},
        {"title": "Old brief", "status": "done"},
        {"title": "Design", "milestone": "Design"},
    ],
    "milestones": [
        {"name": "Discovery", "due_offset_days": 7, "amount_cents": 250_000},
        {"name": "Design", "due_offset_days": 21},
    ],
}


class TestBuildingTheBoard:
    async def test_a_project_without_templates_gets_the_default_board_and_its_creator(
        self, work: httpx.AsyncClient, agency: Caller, work_rows: WorkRows
    ) -> None:
        project = await create_project(
            work,
            agency,
            name="  Website relaunch ",
            description="Redesign",
            billing_type="retainer",
            hourly_rate_cents=9500,
            budget_cents=1_000_000,
            budget_hours="120.5",
            start_date=START.isoformat(),
            deadline=(START + timedelta(days=30)).isoformat(),
        )

        assert project["name"] == "Website relaunch"
        assert project["description"] == "Redesign"
        assert (project["status"], project["billing_type"]) == ("planning", "retainer")
        assert (project["hourly_rate_cents"], project["budget_cents"]) == (9500, 1_000_000)
        assert project["budget_hours"] == 120.5
        assert project["currency"] == "USD"
        assert (project["start_date"], project["deadline"]) == ("2026-12-01", "2026-12-31")
        assert project["deal_id"] is None
        assert project["template_id"] is None
        assert (project["progress"], project["task_count"]) == (0, 0)
        assert member_ids(project) == {str(agency.user_id)}
        assert project["created_by"] == str(agency.user_id)
        assert await get_project(work, agency, project["id"]) == project
        columns, tasks, milestones = await board_rows(work_rows, agency, project["id"])
        assert [(c["name"], c["status"]) for c in columns] == [
            ("To do", "todo"),
            ("In progress", "in_progress"),
            ("Review", "review"),
            ("Done", "done"),
        ]
        assert tasks == []
        assert milestones == []

    async def test_a_template_s_board_tasks_and_milestones_are_copied_with_due_dates(
        self, work: httpx.AsyncClient, agency: Caller, work_rows: WorkRows
    ) -> None:
        template = await create_template(work, agency, **WEBSITE_TEMPLATE)

        project = await create_project(
            work, agency, template_id=template["id"], start_date=START.isoformat()
        )

        assert project["template_id"] == template["id"]
        assert project["billing_type"] == "fixed"
        # One of four tasks starts done.
        assert (project["task_count"], project["done_task_count"], project["progress"]) == (
            4,
            1,
            25,
        )
        columns, tasks, milestones = await board_rows(work_rows, agency, project["id"])
        assert [(c["name"], c["color"], c["status"]) for c in columns] == [
            ("Backlog", "#111111", "todo"),
            ("Doing", "#222222", "in_progress"),
            ("Shipped", "#333333", "done"),
        ]
        column_of = {c["id"]: c["name"] for c in columns}
        by_title = {t["title"]: t for t in tasks}
        kickoff = by_title["Kick-off"]
        assert column_of[kickoff["column_id"]] == "Backlog"
        assert (kickoff["status"], kickoff["priority"]) == ("todo", "high")
        assert kickoff["due_date"] == START + timedelta(days=3)
        assert float(kickoff["estimate_hours"]) == 2.5
        assert kickoff["labels"] == ["discovery"]
        assert kickoff["milestone"] == "Discovery"
        assert kickoff["visible_to_client"] is True
        assert column_of[by_title["Wireframes"]["column_id"]] == "Doing"
        assert by_title["Wireframes"]["due_date"] == START + timedelta(days=10)
        assert column_of[by_title["Old brief"]["column_id"]] == "Shipped"
        assert by_title["Design"]["due_date"] is None
        assert by_title["Design"]["milestone"] == "Design"
        assert [(m["name"], m["due_date"], m["amount_cents"]) for m in milestones] == [
            ("Design", START + timedelta(days=21), None),
            ("Discovery", START + timedelta(days=7), 250_000),
        ]

    async def test_without_a_template_id_the_agencys_default_template_is_used(
        self, work: httpx.AsyncClient, agency: Caller, work_rows: WorkRows
    ) -> None:
        template = await create_template(work, agency, is_default=True, **WEBSITE_TEMPLATE)

        project = await create_project(work, agency, start_date=START.isoformat())

        assert project["template_id"] == template["id"]
        columns, tasks, _ = await board_rows(work_rows, agency, project["id"])
        assert [c["name"] for c in columns] == ["Backlog", "Doing", "Shipped"]
        assert len(tasks) == 4

    async def test_template_edits_later_do_not_change_the_project(
        self, work: httpx.AsyncClient, agency: Caller, work_rows: WorkRows
    ) -> None:
        template = await create_template(work, agency, **WEBSITE_TEMPLATE)
        project = await create_project(work, agency, template_id=template["id"])

        response = await work.patch(
            f"/v1/project-templates/{template['id']}",
            json={"columns": [{"name": "Only", "status": "todo"}], "tasks": []},
            headers=agency.headers,
        )
        assert response.status_code == 200, response.text

        columns, tasks, _ = await board_rows(work_rows, agency, project["id"])
        assert [c["name"] for c in columns] == ["Backlog", "Doing", "Shipped"]
        assert len(tasks) == 4

    async def test_another_agencys_template_is_rejected_naming_template_id(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        theirs = await create_template(work, other_agency, **WEBSITE_TEMPLATE)

        for template_id in (theirs["id"], str(uuid.uuid4())):
            response = await work.post(
                "/v1/projects",
                json={"name": "Stolen", "template_id": template_id},
                headers=agency.headers,
            )
            assert_invalid_fields(response, "template_id")
        assert (await list_projects(work, agency))["total"] == 0
