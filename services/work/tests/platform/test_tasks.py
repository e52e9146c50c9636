"""Tasks through the real gateway: creating (with validation against the project), reading
and listing with filters, editing, dependencies (cycles refused), subtasks, moves on the board
(fractional order, rebalancing, completion in a done column), optimistic concurrency with
If-Match, visibility rules, and the gRPC methods the client portal calls."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    as_caller,
    get_board,
    new_project,
    new_task,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform

MIN_GAP = 1e-6


# --- helpers --------------------------------------------------------------------------------


async def column_ids(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str
) -> dict[str, str]:
    """Column name → id."""
    board = await get_board(gateway, who, project_id)
    return {c["name"]: c["id"] for c in board["columns"]}


async def column_task_ids(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, name: str
) -> list[str]:
    board = await get_board(gateway, who, project_id)
    column = next(c for c in board["columns"] if c["name"] == name)
    return [t["id"] for t in column["tasks"]]


async def create_task(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> httpx.Response:
    body = {"title": f"Task {uuid.uuid4().hex[:6]}", **fields}
    return await gateway.post(f"/v1/projects/{project_id}/tasks", json=body, headers=who.headers)


async def get_task(gateway: httpx.AsyncClient, who: AgencySession, task_id: str) -> dict[str, Any]:
    response = await gateway.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def move(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    task_id: str,
    column_id: str,
    *,
    if_match: str | None = None,
    **anchor: str,
) -> httpx.Response:
    headers = dict(who.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await gateway.post(
        f"/v1/tasks/{task_id}/move", json={"column_id": column_id, **anchor}, headers=headers
    )


async def patch(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    task_id: str,
    body: dict[str, Any],
    *,
    if_match: str | None = None,
) -> httpx.Response:
    headers = dict(who.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await gateway.patch(f"/v1/tasks/{task_id}", json=body, headers=headers)


async def milestone_of_template_project(
    gateway: httpx.AsyncClient, who: AgencySession
) -> tuple[dict[str, Any], str]:
    """A project made from a template with a milestone, and that milestone's id (read off the
    template task that belongs to it)."""
    response = await gateway.post(
        "/v1/project-templates",
        json={
            "name": f"Template {uuid.uuid4().hex[:6]}",
            "milestones": [{"name": "Launch"}],
            "tasks": [{"title": "Launch it", "milestone": "Launch"}],
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    project = await new_project(gateway, who, template_id=response.json()["id"])
    listing = await gateway.get(f"/v1/projects/{project['id']}/tasks", headers=who.headers)
    assert listing.status_code == 200, listing.text
    [task] = listing.json()["items"]
    assert task["milestone_id"], task
    return project, str(task["milestone_id"])


async def work_events(
    platform: Platform,
    agency: AgencySession,
    event_type: str,
    task_id: str,
    count: int = 1,
) -> list[dict[str, Any]]:
    topic = f"{platform.topic_prefix}work.events"

    def matching(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, tenantid=str(agency.agency_id), type=event_type)
            if e["data"]["task_id"] == task_id
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap, topic, lambda rs: len(matching(rs)) >= count
    )
    return matching(records)


# --- creating -------------------------------------------------------------------------------


class TestCreatingTasks:
    async def test_a_task_is_created_with_every_field_at_the_bottom_of_its_column(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        earlier = await new_task(gateway, agency, project["id"], status="in_progress")

        response = await create_task(
            gateway,
            agency,
            project["id"],
            title="  Design the landing page  ",
            description="Hero, pricing and **FAQ**",
            status="in_progress",
            priority="high",
            assignee_ids=[str(member.user_id)],
            due_date="2026-12-15",
            estimate_hours=12.5,
            labels=["design", "web", "design"],
            subtasks=[{"title": "Wireframe", "done": True}, {"title": "Mockup"}],
            blocked_by=[earlier["id"]],
            visible_to_client=True,
        )

        assert response.status_code == 201, response.text
        task = response.json()
        assert response.headers["location"] == f"/v1/tasks/{task['id']}"
        assert response.headers["etag"] == '"1"'
        assert task["title"] == "Design the landing page"
        assert task["description"] == "Hero, pricing and **FAQ**"
        assert task["status"] == "in_progress"
        columns = await column_ids(gateway, agency, project["id"])
        assert task["column_id"] == columns["In progress"]
        assert task["priority"] == "high"
        assert task["assignee_ids"] == [str(member.user_id)]
        assert task["due_date"] == "2026-12-15"
        assert task["estimate_hours"] == 12.5
        assert task["labels"] == ["design", "web"]
        assert [(s["title"], s["done"]) for s in task["subtasks"]] == [
            ("Wireframe", True),
            ("Mockup", False),
        ]
        assert (task["subtasks_total"], task["subtasks_done"]) == (2, 1)
        assert task["blocked_by"] == [earlier["id"]]
        assert task["visible_to_client"] is True
        assert task["version"] == 1
        assert task["completed_at"] is None
        assert task["created_by"] == str(agency.user_id)
        assert task["position"] > earlier["position"]
        assert (await get_task(gateway, agency, earlier["id"]))["blocking"] == [task["id"]]

    async def test_creating_publishes_work_task_created(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        task = await new_task(gateway, agency, project["id"], title="Announce")

        [event] = await work_events(platform, agency, "work.task.created", task["id"])
        assert event["subject"] == f"tasks/{task['id']}"
        assert event["data"]["title"] == "Announce"
        assert event["data"]["project_id"] == project["id"]
        assert event["data"]["task_version"] == 1
        assert event["data"]["actor_id"] == str(agency.user_id)

    async def test_without_column_or_status_the_task_goes_to_the_first_column(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        task = await new_task(gateway, agency, project["id"])

        assert task["status"] == "todo"
        assert task["column_id"] == (await column_ids(gateway, agency, project["id"]))["To do"]

    async def test_a_column_id_of_another_project_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        other = await new_project(gateway, agency)
        foreign = (await column_ids(gateway, agency, other["id"]))["To do"]

        response = await create_task(gateway, agency, project["id"], column_id=foreign)
        unknown = await create_task(gateway, agency, project["id"], column_id=str(uuid.uuid4()))

        assert_invalid_fields(response, "column_id")
        assert_invalid_fields(unknown, "column_id")

    async def test_a_status_that_differs_from_the_columns_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        todo = (await column_ids(gateway, agency, project["id"]))["To do"]

        response = await create_task(gateway, agency, project["id"], column_id=todo, status="done")

        assert_invalid_fields(response, "status")

    async def test_an_assignee_who_is_not_on_the_project_is_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)

        response = await create_task(
            gateway, agency, project["id"], assignee_ids=[str(outsider.user_id)]
        )

        body = assert_invalid_fields(response, "assignee_ids")
        assert str(outsider.user_id) in body["detail"]

    async def test_a_milestone_of_another_project_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        _, milestone_id = await milestone_of_template_project(gateway, agency)
        project = await new_project(gateway, agency)

        response = await create_task(gateway, agency, project["id"], milestone_id=milestone_id)

        assert_invalid_fields(response, "milestone_id")

    async def test_a_milestone_of_the_same_project_is_accepted(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project, milestone_id = await milestone_of_template_project(gateway, agency)

        task = await new_task(gateway, agency, project["id"], milestone_id=milestone_id)

        assert task["milestone_id"] == milestone_id

    async def test_a_blocker_from_another_project_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        other = await new_project(gateway, agency)
        foreign = await new_task(gateway, agency, other["id"])

        response = await create_task(gateway, agency, project["id"], blocked_by=[foreign["id"]])

        assert_invalid_fields(response, "blocked_by")

    async def test_bad_fields_are_named(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        response = await gateway.post(
            f"/v1/projects/{project['id']}/tasks",
            json={"title": " ", "priority": "someday", "estimate_hours": -1},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "title", "priority", "estimate_hours")

    async def test_text_with_a_nul_character_is_refused_not_a_server_error(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        response = await create_task(
            gateway, agency, project["id"], title="a\u0000b", labels=["x\u0000"]
        )
        search = await gateway.get(
            f"/v1/projects/{project['id']}/tasks", params={"q": "a\x00"}, headers=agency.headers
        )

        assert_invalid_fields(response, "title", "labels.0")
        assert_invalid_fields(search, "query.q")


# --- reading and listing ---------------------------------------------------------------------


class TestListingTasks:
    async def test_filters_combine_and_the_list_is_paginated(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        pid = project["id"]
        mine = await new_task(
            gateway,
            agency,
            pid,
            title="Write the launch post",
            assignee_ids=[str(member.user_id)],
            priority="high",
            due_date="2026-12-10",
            labels=["blog"],
        )
        footer = await new_task(gateway, agency, pid, title="Fix the footer", due_date="2026-12-20")
        review = await new_task(
            gateway, agency, pid, title="Review copy", status="review", labels=["blog"]
        )

        async def ids(**params: Any) -> list[str]:
            response = await gateway.get(
                f"/v1/projects/{pid}/tasks", params=params, headers=agency.headers
            )
            assert response.status_code == 200, response.text
            return [t["id"] for t in response.json()["items"]]

        assert await ids(assignee=str(member.user_id)) == [mine["id"]]
        assert await ids(status="review") == [review["id"]]
        assert await ids(priority="high") == [mine["id"]]
        assert await ids(label="blog") == [mine["id"], review["id"]]
        assert await ids(due_before="2026-12-15") == [mine["id"]]
        assert await ids(due_after="2026-12-15") == [footer["id"]]
        assert await ids(q="LAUNCH") == [mine["id"]]
        assert await ids(label="blog", status="todo") == [mine["id"]]
        page = await gateway.get(
            f"/v1/projects/{pid}/tasks",
            params={"per_page": 2, "page": 2},
            headers=agency.headers,
        )
        assert page.json()["total"] == 3
        assert page.json()["page"] == 2
        assert len(page.json()["items"]) == 1

    async def test_a_member_not_on_the_project_gets_404(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        listing = await gateway.get(f"/v1/projects/{project['id']}/tasks", headers=outsider.headers)
        single = await gateway.get(f"/v1/tasks/{task['id']}", headers=outsider.headers)

        assert_problem(listing, 404, "not-found")
        assert_problem(single, 404, "not-found")

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        single = await gateway.get(f"/v1/tasks/{task['id']}", headers=other_agency.headers)
        listing = await gateway.get(
            f"/v1/projects/{project['id']}/tasks", headers=other_agency.headers
        )

        assert_problem(single, 404, "not-found")
        assert_problem(listing, 404, "not-found")

    async def test_get_answers_the_version_as_etag(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await gateway.get(f"/v1/tasks/{task['id']}", headers=agency.headers)

        assert response.headers["etag"] == '"1"'


# --- editing ---------------------------------------------------------------------------------


class TestEditingTasks:
    async def test_sent_fields_change_and_the_version_is_bumped(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, member)
        task = await new_task(gateway, agency, project["id"], due_date="2026-12-01")

        response = await patch(
            gateway,
            member,
            task["id"],
            {
                "title": "Renamed",
                "priority": "urgent",
                "assignee_ids": [str(member.user_id)],
                "due_date": None,
                "labels": ["ops"],
            },
        )

        assert response.status_code == 200, response.text
        edited = response.json()
        assert response.headers["etag"] == '"2"'
        assert edited["title"] == "Renamed"
        assert edited["priority"] == "urgent"
        assert edited["assignee_ids"] == [str(member.user_id)]
        assert edited["due_date"] is None
        assert edited["labels"] == ["ops"]
        assert edited["version"] == 2
        [event] = await work_events(platform, agency, "work.task.updated", task["id"])
        assert set(event["data"]["changed_fields"]) == {
            "title",
            "priority",
            "assignee_ids",
            "due_date",
            "labels",
        }
        assert event["data"]["task_version"] == 2

    async def test_a_patch_that_changes_nothing_keeps_the_version(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"], title="Same")

        response = await patch(gateway, agency, task["id"], {"title": "Same"})

        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1

    async def test_null_for_a_required_field_and_a_stranger_assignee_are_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        null_title = await patch(gateway, agency, task["id"], {"title": None})
        stranger = await patch(
            gateway, agency, task["id"], {"assignee_ids": [str(outsider.user_id)]}
        )
        status = await patch(gateway, agency, task["id"], {"status": "done"})

        assert_problem(null_title, 422, "invalid-input")
        assert_invalid_fields(stranger, "assignee_ids")
        assert_invalid_fields(status, "status")
        assert (await get_task(gateway, agency, task["id"]))["version"] == 1

    async def test_a_member_not_on_the_project_gets_404_and_a_client_403(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        client_user = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        hidden = await patch(gateway, outsider, task["id"], {"title": "Mine"})
        refused = await patch(gateway, client_user, task["id"], {"title": "Mine"})

        assert_problem(hidden, 404, "not-found")
        assert_problem(refused, 403, "permission-denied")

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await patch(gateway, other_agency, task["id"], {"title": "Mine"})

        assert_problem(response, 404, "not-found")
        assert (await get_task(gateway, agency, task["id"]))["title"] == task["title"]


class TestDeletingTasks:
    async def test_a_deleted_task_is_gone(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await gateway.delete(f"/v1/tasks/{task['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        gone = await gateway.get(f"/v1/tasks/{task['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")

    async def test_a_stale_if_match_keeps_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])
        assert (await patch(gateway, agency, task["id"], {"title": "v2"})).status_code == 200

        response = await gateway.delete(
            f"/v1/tasks/{task['id']}", headers={**agency.headers, "If-Match": '"1"'}
        )

        assert assert_problem(response, 409, "conflict")["current_version"] == 2
        assert (await get_task(gateway, agency, task["id"]))["title"] == "v2"

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await gateway.delete(f"/v1/tasks/{task['id']}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        await get_task(gateway, agency, task["id"])


# --- dependencies ----------------------------------------------------------------------------


class TestDependencies:
    async def test_blocked_by_is_replaced_and_shows_on_both_tasks(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        a, b, c = [await new_task(gateway, agency, project["id"]) for _ in range(3)]

        first = await patch(gateway, agency, a["id"], {"blocked_by": [b["id"], c["id"]]})
        second = await patch(gateway, agency, a["id"], {"blocked_by": [c["id"]]})

        assert first.status_code == 200, first.text
        assert sorted(first.json()["blocked_by"]) == sorted([b["id"], c["id"]])
        assert second.status_code == 200, second.text
        assert second.json()["blocked_by"] == [c["id"]]
        assert second.json()["version"] == 3
        assert (await get_task(gateway, agency, c["id"]))["blocking"] == [a["id"]]
        assert (await get_task(gateway, agency, b["id"]))["blocking"] == []

    async def test_a_cycle_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        a, b, c = [await new_task(gateway, agency, project["id"]) for _ in range(3)]
        assert (await patch(gateway, agency, a["id"], {"blocked_by": [b["id"]]})).is_success
        assert (await patch(gateway, agency, b["id"], {"blocked_by": [c["id"]]})).is_success

        response = await patch(gateway, agency, c["id"], {"blocked_by": [a["id"]]})

        body = assert_invalid_fields(response, "blocked_by")
        assert "cycle" in body["detail"]
        after = await get_task(gateway, agency, c["id"])
        assert after["blocked_by"] == []
        assert after["version"] == 1

    async def test_a_task_cannot_block_itself(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await patch(gateway, agency, task["id"], {"blocked_by": [task["id"]]})

        assert_invalid_fields(response, "blocked_by")

    async def test_a_task_of_another_project_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        other = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])
        foreign = await new_task(gateway, agency, other["id"])

        response = await patch(gateway, agency, task["id"], {"blocked_by": [foreign["id"]]})

        assert_invalid_fields(response, "blocked_by")

    async def test_concurrent_edits_cannot_close_a_cycle_between_them(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        a, b = [await new_task(gateway, agency, project["id"]) for _ in range(2)]

        responses = await asyncio.gather(
            patch(gateway, agency, a["id"], {"blocked_by": [b["id"]]}),
            patch(gateway, agency, b["id"], {"blocked_by": [a["id"]]}),
        )

        assert sorted(r.status_code for r in responses) == [200, 422]


# --- subtasks --------------------------------------------------------------------------------


class TestSubtasks:
    async def test_subtasks_are_added_ticked_off_and_removed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        added = await gateway.post(
            f"/v1/tasks/{task['id']}/subtasks", json={"title": "Proofread"}, headers=agency.headers
        )
        assert added.status_code == 201, added.text
        assert added.headers["etag"] == '"2"'
        subtask = added.json()
        ticked = await gateway.patch(
            f"/v1/subtasks/{subtask['id']}", json={"done": True}, headers=agency.headers
        )
        assert ticked.status_code == 200, ticked.text
        assert ticked.json()["done"] is True
        after_tick = await get_task(gateway, agency, task["id"])
        removed = await gateway.delete(f"/v1/subtasks/{subtask['id']}", headers=agency.headers)

        assert (after_tick["subtasks_total"], after_tick["subtasks_done"]) == (1, 1)
        assert after_tick["version"] == 3
        assert removed.status_code == 204, removed.text
        final = await get_task(gateway, agency, task["id"])
        assert final["subtasks"] == []
        assert final["version"] == 4

    async def test_another_agency_gets_404(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"], subtasks=[{"title": "One"}])
        [subtask] = task["subtasks"]

        added = await gateway.post(
            f"/v1/tasks/{task['id']}/subtasks", json={"title": "X"}, headers=other_agency.headers
        )
        edited = await gateway.patch(
            f"/v1/subtasks/{subtask['id']}", json={"done": True}, headers=other_agency.headers
        )
        removed = await gateway.delete(
            f"/v1/subtasks/{subtask['id']}", headers=other_agency.headers
        )

        assert_problem(added, 404, "not-found")
        assert_problem(edited, 404, "not-found")
        assert_problem(removed, 404, "not-found")


# --- moving ----------------------------------------------------------------------------------


class TestMovingTasks:
    async def test_before_and_after_place_the_task_between_its_neighbours(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        pid = project["id"]
        todo = (await column_ids(gateway, agency, pid))["To do"]
        a, b, c = [await new_task(gateway, agency, pid) for _ in range(3)]

        before = await move(gateway, agency, c["id"], todo, before_id=a["id"])
        assert before.status_code == 200, before.text
        assert await column_task_ids(gateway, agency, pid, "To do") == [c["id"], a["id"], b["id"]]

        after = await move(gateway, agency, c["id"], todo, after_id=a["id"])
        assert after.status_code == 200, after.text
        assert await column_task_ids(gateway, agency, pid, "To do") == [a["id"], c["id"], b["id"]]
        assert a["position"] < after.json()["position"] < b["position"]
        assert after.json()["version"] == 3
        assert after.headers["etag"] == '"3"'

    async def test_without_an_anchor_the_task_goes_to_the_bottom_of_the_column(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        pid = project["id"]
        columns = await column_ids(gateway, agency, pid)
        a = await new_task(gateway, agency, pid, status="review")
        b = await new_task(gateway, agency, pid)

        response = await move(gateway, agency, b["id"], columns["Review"])

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "review"
        assert await column_task_ids(gateway, agency, pid, "Review") == [a["id"], b["id"]]

    async def test_many_moves_into_one_gap_rebalance_the_column_and_keep_the_order(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        pid = project["id"]
        columns = await column_ids(gateway, agency, pid)
        top = await new_task(gateway, agency, pid, title="top")
        bottom = await new_task(gateway, agency, pid, title="bottom")
        movers = [
            await new_task(gateway, agency, pid, status="review", title=f"m{i}") for i in range(40)
        ]

        # Each goes right below `top`: into the ever smaller gap above the previous one.
        for mover in movers:
            response = await move(
                gateway, agency, mover["id"], columns["To do"], after_id=top["id"]
            )
            assert response.status_code == 200, response.text

        board = await get_board(gateway, agency, pid)
        [todo] = [c for c in board["columns"] if c["name"] == "To do"]
        expected = [top["id"], *[m["id"] for m in reversed(movers)], bottom["id"]]
        assert [t["id"] for t in todo["tasks"]] == expected
        positions = [t["position"] for t in todo["tasks"]]
        gaps = [b - a for a, b in itertools.pairwise(positions)]
        # 40 halvings of a 1024 gap would leave ~1e-9: only a rebalance keeps them this wide.
        assert min(gaps) > MIN_GAP

    async def test_a_move_into_a_done_column_completes_the_task_and_publishes_it(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"])

        response = await move(gateway, agency, task["id"], columns["Done"])

        assert response.status_code == 200, response.text
        done = response.json()
        assert done["status"] == "done"
        assert done["completed_at"] is not None
        [completed] = await work_events(platform, agency, "work.task.completed", task["id"])
        assert completed["data"]["completed_at"]
        assert completed["data"]["task_version"] == 2
        [moved] = await work_events(platform, agency, "work.task.moved", task["id"])
        assert moved["data"]["from_column_id"] == columns["To do"]
        assert moved["data"]["column_id"] == columns["Done"]

    async def test_moving_out_of_done_clears_completed_at(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"], status="done")
        assert task["completed_at"] is not None

        response = await move(gateway, agency, task["id"], columns["In progress"])

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "in_progress"
        assert response.json()["completed_at"] is None

    async def test_bad_targets_are_refused_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        other = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        foreign_column = (await column_ids(gateway, agency, other["id"]))["To do"]
        task = await new_task(gateway, agency, project["id"])
        elsewhere = await new_task(gateway, agency, project["id"], status="review")

        unknown = await move(gateway, agency, task["id"], str(uuid.uuid4()))
        foreign = await move(gateway, agency, task["id"], foreign_column)
        wrong_anchor = await move(
            gateway, agency, task["id"], columns["To do"], before_id=elsewhere["id"]
        )
        both = await move(
            gateway,
            agency,
            task["id"],
            columns["Review"],
            before_id=elsewhere["id"],
            after_id=elsewhere["id"],
        )
        itself = await move(gateway, agency, task["id"], columns["To do"], after_id=task["id"])

        assert_invalid_fields(unknown, "column_id")
        assert_invalid_fields(foreign, "column_id")
        assert_invalid_fields(wrong_anchor, "before_id")
        assert_invalid_fields(both, "before_id", "after_id")
        assert_invalid_fields(itself, "after_id")
        assert (await get_task(gateway, agency, task["id"]))["version"] == 1

    async def test_a_member_not_on_the_project_gets_404_and_another_agency_too(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"])

        hidden = await move(gateway, outsider, task["id"], columns["Done"])
        foreign = await move(gateway, other_agency, task["id"], columns["Done"])

        assert_problem(hidden, 404, "not-found")
        assert_problem(foreign, 404, "not-found")
        assert (await get_task(gateway, agency, task["id"]))["status"] == "todo"


class TestOptimisticConcurrency:
    async def test_a_stale_if_match_is_refused_with_the_current_version(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"])
        assert (await patch(gateway, agency, task["id"], {"title": "v2"})).status_code == 200

        stale_move = await move(gateway, agency, task["id"], columns["Review"], if_match='"1"')
        stale_patch = await patch(gateway, agency, task["id"], {"title": "v3"}, if_match="1")

        for response in (stale_move, stale_patch):
            body = assert_problem(response, 409, "conflict")
            assert body["current_version"] == 2
        after = await get_task(gateway, agency, task["id"])
        assert (after["title"], after["status"], after["version"]) == ("v2", "todo", 2)

    async def test_a_fresh_if_match_applies_and_none_applies_too(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"])

        fresh = await move(gateway, agency, task["id"], columns["Review"], if_match='"1"')
        etag = fresh.headers["etag"]
        patched = await patch(gateway, agency, task["id"], {"title": "v3"}, if_match=etag)
        unconditional = await patch(gateway, agency, task["id"], {"title": "v4"})

        assert fresh.status_code == 200, fresh.text
        assert etag == '"2"'
        assert patched.status_code == 200, patched.text
        assert patched.headers["etag"] == '"3"'
        assert unconditional.status_code == 200, unconditional.text
        assert unconditional.json()["version"] == 4

    async def test_two_concurrent_moves_with_the_same_if_match_apply_exactly_once(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        columns = await column_ids(gateway, agency, project["id"])
        task = await new_task(gateway, agency, project["id"])

        responses = await asyncio.gather(
            move(gateway, agency, task["id"], columns["In progress"], if_match='"1"'),
            move(gateway, agency, task["id"], columns["Review"], if_match='"1"'),
        )

        assert sorted(r.status_code for r in responses) == [200, 409]
        [winner] = [r for r in responses if r.status_code == 200]
        [loser] = [r for r in responses if r.status_code == 409]
        assert assert_problem(loser, 409, "conflict")["current_version"] == 2
        after = await get_task(gateway, agency, task["id"])
        assert after["version"] == 2
        assert after["column_id"] == winner.json()["column_id"]

    async def test_a_malformed_if_match_is_a_bad_request(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        response = await patch(gateway, agency, task["id"], {"title": "x"}, if_match="banana")

        assert_problem(response, 400, "bad-request")


# --- gRPC ------------------------------------------------------------------------------------


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


def client_of(who: AgencySession) -> str:
    _, claims = unverified_jwt(who.access_token)
    return str(claims["cid"])


class TestClientVisibleTasksRpc:
    async def test_a_client_user_sees_its_projects_client_visible_tasks_in_board_order(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency, client_id=client_of(client_user))
        shown = await new_task(gateway, agency, project["id"], visible_to_client=True)
        await new_task(gateway, agency, project["id"], title="Internal")
        done = await new_task(gateway, agency, project["id"], visible_to_client=True, status="done")

        answer = await stub.ListClientVisibleTasks(
            work_pb2.ListClientVisibleTasksRequest(project_id=project["id"]),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert [t.id for t in answer.tasks] == [shown["id"], done["id"]]
        assert all(t.visible_to_client for t in answer.tasks)
        assert answer.tasks[1].status == "done"
        assert answer.tasks[1].completed_at.endswith("Z")

    async def test_a_client_user_of_another_client_gets_not_found(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        ours = await add_member(platform, gateway, agency, "client")
        theirs = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency, client_id=client_of(ours))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListClientVisibleTasks(
                work_pb2.ListClientVisibleTasksRequest(project_id=project["id"]),
                metadata=as_caller(theirs),
                timeout=10,
            )

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_agency_staff_see_them_by_project_visibility(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency)
        shown = await new_task(gateway, agency, project["id"], visible_to_client=True)
        request = work_pb2.ListClientVisibleTasksRequest(project_id=project["id"])

        answer = await stub.ListClientVisibleTasks(request, metadata=as_caller(agency), timeout=10)
        for stranger in (outsider, other_agency):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListClientVisibleTasks(request, metadata=as_caller(stranger), timeout=10)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        assert [t.id for t in answer.tasks] == [shown["id"]]


class TestCreateTaskFromFeedbackRpc:
    async def test_a_client_user_adds_a_visible_task_to_the_first_todo_column(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency, client_id=client_of(client_user))
        existing = await new_task(gateway, agency, project["id"])

        created = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=project["id"],
                title="  The logo is too small  ",
                description="On the *home* page",
            ),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert created.title == "The logo is too small"
        assert created.status == "todo"
        assert created.visible_to_client is True
        task = await get_task(gateway, agency, created.id)
        assert task["description"] == "On the *home* page"
        assert task["created_by"] == str(client_user.user_id)
        assert await column_task_ids(gateway, agency, project["id"], "To do") == [
            existing["id"],
            created.id,
        ]

    async def test_staff_with_tasks_write_may_create_an_internal_one(
        self,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        project = await new_project(gateway, agency)

        created = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=project["id"], title="Follow up", visible_to_client=False
            ),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert created.visible_to_client is False
        assert created.project_id == project["id"]

    async def test_a_client_user_of_another_client_and_other_agencies_get_not_found(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        ours = await add_member(platform, gateway, agency, "client")
        theirs = await add_member(platform, gateway, agency, "client")
        outsider = await add_member(platform, gateway, agency, "member")
        project = await new_project(gateway, agency, client_id=client_of(ours))
        request = work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Hi")

        for stranger in (theirs, outsider, other_agency):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CreateTaskFromFeedback(request, metadata=as_caller(stranger), timeout=10)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        listing = await gateway.get(f"/v1/projects/{project['id']}/tasks", headers=agency.headers)
        assert listing.json()["total"] == 0

    async def test_an_empty_title_is_invalid(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        project = await new_project(gateway, agency, client_id=client_of(client_user))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTaskFromFeedback(
                work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="   "),
                metadata=as_caller(client_user),
                timeout=10,
            )

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
