"""Who hears they were assigned: one work.task.assigned per member newly assigned to a task,
when it is created and when an edit adds them (never for the assignees an edit keeps), with
the acting user as `assigned_by` (also when they assign themselves)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import new_project, new_task
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def assigned(work_events: WorkEvents, who: Caller, task_id: str) -> list[dict[str, Any]]:
    """The data of every work.task.assigned work wrote for a task, oldest first."""
    return [
        e["data"] for e in await work_events(who.agency_id, "work.task.assigned", task_id=task_id)
    ]


async def edit(work: httpx.AsyncClient, who: Caller, task_id: str, **fields: Any) -> dict[str, Any]:
    response = await work.patch(f"/v1/tasks/{task_id}", json=fields, headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


class TestAssignedOnCreation:
    async def test_each_assignee_gets_one_event_naming_the_task_and_who_assigned_them(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        project = await new_project(work, agency, dana, fox)

        task = await new_task(
            work,
            agency,
            project["id"],
            title="Hero copy",
            due_date="2027-01-15",
            assignee_ids=[str(dana.user_id), str(fox.user_id), str(dana.user_id)],
        )

        events = await work_events(agency.agency_id, "work.task.assigned", task_id=task["id"])
        assert [e["data"] for e in events] == [
            {
                "task_id": task["id"],
                "project_id": project["id"],
                "task_title": "Hero copy",
                "assignee_id": str(who.user_id),
                "assigned_by": str(agency.user_id),
                "due_date": "2027-01-15",
            }
            for who in (dana, fox)
        ]
        assert all(e["subject"] == f"tasks/{task['id']}" for e in events)

    async def test_assigning_oneself_still_publishes(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)

        task = await new_task(work, agency, project["id"], assignee_ids=[str(agency.user_id)])

        [event] = await assigned(work_events, agency, task["id"])
        assert event["assignee_id"] == event["assigned_by"] == str(agency.user_id)
        assert event["due_date"] is None

    async def test_a_task_without_assignees_publishes_none(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)

        task = await new_task(work, agency, project["id"])

        assert await assigned(work_events, agency, task["id"]) == []


class TestAssignedByAnEdit:
    async def test_only_the_assignees_an_edit_adds_hear_of_it(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        lee = tenant.caller("member")
        project = await new_project(work, agency, dana, fox, lee)
        task = await new_task(work, agency, project["id"], assignee_ids=[str(dana.user_id)])

        await edit(
            work,
            fox,
            task["id"],
            assignee_ids=[str(lee.user_id), str(dana.user_id), str(fox.user_id)],
            due_date="2027-02-01",
        )

        events = await assigned(work_events, agency, task["id"])
        assert [(e["assignee_id"], e["assigned_by"], e["due_date"]) for e in events] == [
            (str(dana.user_id), str(agency.user_id), None),
            (str(lee.user_id), str(fox.user_id), "2027-02-01"),
            (str(fox.user_id), str(fox.user_id), "2027-02-01"),
        ]

    async def test_removing_or_reordering_assignees_publishes_none(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        fox = tenant.caller("member")
        project = await new_project(work, agency, dana, fox)
        both = [str(dana.user_id), str(fox.user_id)]
        task = await new_task(work, agency, project["id"], assignee_ids=both)

        await edit(work, agency, task["id"], assignee_ids=list(reversed(both)))
        await edit(work, agency, task["id"], assignee_ids=[str(fox.user_id)])

        assert len(await assigned(work_events, agency, task["id"])) == 2

    async def test_an_edit_of_other_fields_publishes_none(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(work, agency, project["id"], assignee_ids=[str(dana.user_id)])

        await edit(work, agency, task["id"], title="Renamed", due_date="2027-03-01")

        [only] = await assigned(work_events, agency, task["id"])
        assert only["task_title"] == task["title"]
