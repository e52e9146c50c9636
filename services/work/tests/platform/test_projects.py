"""Projects through the real gateway and processes: concurrent creates each get their own
board. (The service's own rules of projects are tested in-process, in tests/inprocess/project.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def create_project(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/projects/{response.json()['id']}"
    project: dict[str, Any] = response.json()
    return project


async def create_template(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


async def board_rows(
    platform: Platform, who: AgencySession, project_id: str
) -> tuple[list[Any], list[Any], list[Any]]:
    """The project's columns, tasks and milestones as stored (what the board and task APIs
    serve), read under the agency's tenant."""

    async def rows(query: str) -> list[Any]:
        return await fetch_rows(
            platform.infra,
            platform.database("work"),
            query,
            uuid.UUID(project_id),
            tenant_id=who.agency_id,
        )

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


async def test_concurrent_creates_each_get_their_own_board(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> None:
    template = await create_template(gateway, agency, **WEBSITE_TEMPLATE)

    projects = await asyncio.gather(
        *(create_project(gateway, agency, template_id=template["id"]) for _ in range(5))
    )

    assert len({p["id"] for p in projects}) == 5
    for project in projects:
        columns, tasks, milestones = await board_rows(platform, agency, project["id"])
        assert (len(columns), len(tasks), len(milestones)) == (3, 4, 2)
