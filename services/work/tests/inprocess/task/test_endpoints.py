"""Tasks through work's API: creating (checked against the project: columns, statuses,
assignees, milestones, blockers), reading and listing with filters, editing, deleting (and
`work.task.deleted`), and optimistic concurrency with If-Match (and If-Match values no
version can have)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.factories import get_board, new_project, new_task
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def column_ids(work: httpx.AsyncClient, who: Caller, project_id: str) -> dict[str, str]:
    """Column name → id."""
    board = await get_board(work, who, project_id)
    return {c["name"]: c["id"] for c in board["columns"]}


async def create_task(
    work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any
) -> httpx.Response:
    body = {"title": f"Task {uuid.uuid4().hex[:6]}", **fields}
    return await work.post(f"/v1/projects/{project_id}/tasks", json=body, headers=who.headers)


async def get_task(work: httpx.AsyncClient, who: Caller, task_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def move(
    work: httpx.AsyncClient,
    who: Caller,
    task_id: str,
    column_id: str,
    *,
    if_match: str | None = None,
    **anchor: str,
) -> httpx.Response:
    headers = dict(who.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await work.post(
        f"/v1/tasks/{task_id}/move", json={"column_id": column_id, **anchor}, headers=headers
    )


async def patch(
    work: httpx.AsyncClient,
    who: Caller,
    task_id: str,
    body: dict[str, Any],
    *,
    if_match: str | None = None,
) -> httpx.Response:
    headers = dict(who.headers)
    if if_match is not None:
        headers["If-Match"] = if_match
    return await work.patch(f"/v1/tasks/{task_id}", json=body, headers=headers)


async def milestone_of_template_project(
    work: httpx.AsyncClient, who: Caller
) -> tuple[dict[str, Any], str]:
    """A project made from a template with a milestone, and that milestone's id (read off the
    template task that belongs to it)."""
    response = await work.post(
        "/v1/project-templates",
        json={
            "name": f"Template {uuid.uuid4().hex[:6]}",
            "milestones": [{"name": "Launch"}],
            "tasks": [{"title": "Launch it", "milestone": "Launch"}],
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    project = await new_project(work, who, template_id=response.json()["id"])
    listing = await work.get(f"/v1/projects/{project['id']}/tasks", headers=who.headers)
    assert listing.status_code == 200, listing.text
    [task] = listing.json()["items"]
    assert task["milestone_id"], task
    return project, str(task["milestone_id"])


# --- creating -------------------------------------------------------------------------------


class TestCreatingTasks:
    async def test_a_task_is_created_with_every_field_at_the_bottom_of_its_column(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        earlier = await new_task(work, agency, project["id"], status="in_progress")

        response = await create_task(
            work,
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
        columns = await column_ids(work, agency, project["id"])
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
        assert (await get_task(work, agency, earlier["id"]))["blocking"] == [task["id"]]

    async def test_creating_publishes_work_task_created(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)

        task = await new_task(work, agency, project["id"], title="Announce")

        [event] = await work_events(agency.agency_id, "work.task.created", task_id=task["id"])
        assert event["subject"] == f"tasks/{task['id']}"
        assert event["data"]["title"] == "Announce"
        assert event["data"]["project_id"] == project["id"]
        assert event["data"]["task_version"] == 1
        assert event["data"]["actor_id"] == str(agency.user_id)

    async def test_without_column_or_status_the_task_goes_to_the_first_column(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        task = await new_task(work, agency, project["id"])

        assert task["status"] == "todo"
        assert task["column_id"] == (await column_ids(work, agency, project["id"]))["To do"]

    async def test_a_column_id_of_another_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        other = await new_project(work, agency)
        foreign = (await column_ids(work, agency, other["id"]))["To do"]

        response = await create_task(work, agency, project["id"], column_id=foreign)
        unknown = await create_task(work, agency, project["id"], column_id=str(uuid.uuid4()))

        assert_invalid_fields(response, "column_id")
        assert_invalid_fields(unknown, "column_id")

    async def test_a_status_that_differs_from_the_columns_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        todo = (await column_ids(work, agency, project["id"]))["To do"]

        response = await create_task(work, agency, project["id"], column_id=todo, status="done")

        assert_invalid_fields(response, "status")

    async def test_an_assignee_who_is_not_on_the_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)

        response = await create_task(
            work, agency, project["id"], assignee_ids=[str(outsider.user_id)]
        )

        body = assert_invalid_fields(response, "assignee_ids")
        assert str(outsider.user_id) in body["detail"]

    async def test_a_milestone_of_another_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        _, milestone_id = await milestone_of_template_project(work, agency)
        project = await new_project(work, agency)

        response = await create_task(work, agency, project["id"], milestone_id=milestone_id)

        assert_invalid_fields(response, "milestone_id")

    async def test_a_milestone_of_the_same_project_is_accepted(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project, milestone_id = await milestone_of_template_project(work, agency)

        task = await new_task(work, agency, project["id"], milestone_id=milestone_id)

        assert task["milestone_id"] == milestone_id

    async def test_a_blocker_from_another_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        other = await new_project(work, agency)
        foreign = await new_task(work, agency, other["id"])

        response = await create_task(work, agency, project["id"], blocked_by=[foreign["id"]])

        assert_invalid_fields(response, "blocked_by")

    async def test_bad_fields_are_named(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)

        response = await work.post(
            f"/v1/projects/{project['id']}/tasks",
            json={"title": " ", "priority": "someday", "estimate_hours": -1},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "title", "priority", "estimate_hours")

    async def test_text_with_a_nul_character_is_refused_not_a_server_error(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        response = await create_task(
            work, agency, project["id"], title="a\u0000b", labels=["x\u0000"]
        )
        search = await work.get(
            f"/v1/projects/{project['id']}/tasks", params={"q": "a\x00"}, headers=agency.headers
        )

        assert_invalid_fields(response, "title", "labels.0")
        assert_invalid_fields(search, "query.q")


# --- reading and listing ---------------------------------------------------------------------


class TestListingTasks:
    async def test_filters_combine_and_the_list_is_paginated(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        pid = project["id"]
        mine = await new_task(
            work,
            agency,
            pid,
            title="Write the launch post",
            assignee_ids=[str(member.user_id)],
            priority="high",
            due_date="2026-12-10",
            labels=["blog"],
        )
        footer = await new_task(work, agency, pid, title="Fix the footer", due_date="2026-12-20")
        review = await new_task(
            work, agency, pid, title="Review copy", status="review", labels=["blog"]
        )

        async def ids(**params: Any) -> list[str]:
            response = await work.get(
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
        page = await work.get(
            f"/v1/projects/{pid}/tasks",
            params={"per_page": 2, "page": 2},
            headers=agency.headers,
        )
        assert page.json()["total"] == 3
        assert page.json()["page"] == 2
        assert len(page.json()["items"]) == 1

    async def test_a_member_not_on_the_project_gets_404(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        listing = await work.get(f"/v1/projects/{project['id']}/tasks", headers=outsider.headers)
        single = await work.get(f"/v1/tasks/{task['id']}", headers=outsider.headers)

        assert_problem(listing, 404, "not-found")
        assert_problem(single, 404, "not-found")

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        single = await work.get(f"/v1/tasks/{task['id']}", headers=other_agency.headers)
        listing = await work.get(
            f"/v1/projects/{project['id']}/tasks", headers=other_agency.headers
        )

        assert_problem(single, 404, "not-found")
        assert_problem(listing, 404, "not-found")

    async def test_get_answers_the_version_as_etag(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await work.get(f"/v1/tasks/{task['id']}", headers=agency.headers)

        assert response.headers["etag"] == '"1"'


# --- editing ---------------------------------------------------------------------------------


class TestEditingTasks:
    async def test_sent_fields_change_and_the_version_is_bumped(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        task = await new_task(work, agency, project["id"], due_date="2026-12-01")

        response = await patch(
            work,
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
        [event] = await work_events(agency.agency_id, "work.task.updated", task_id=task["id"])
        assert set(event["data"]["changed_fields"]) == {
            "title",
            "priority",
            "assignee_ids",
            "due_date",
            "labels",
        }
        assert event["data"]["task_version"] == 2

    async def test_a_patch_that_changes_nothing_keeps_the_version(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], title="Same")

        response = await patch(work, agency, task["id"], {"title": "Same"})

        assert response.status_code == 200, response.text
        assert response.json()["version"] == 1

    async def test_null_for_a_required_field_and_a_stranger_assignee_are_refused(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        null_title = await patch(work, agency, task["id"], {"title": None})
        stranger = await patch(work, agency, task["id"], {"assignee_ids": [str(outsider.user_id)]})
        status = await patch(work, agency, task["id"], {"status": "done"})

        assert_problem(null_title, 422, "invalid-input")
        assert_invalid_fields(stranger, "assignee_ids")
        assert_invalid_fields(status, "status")
        assert (await get_task(work, agency, task["id"]))["version"] == 1

    async def test_a_member_not_on_the_project_gets_404_and_a_client_403(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        client_user = tenant.caller("client")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        hidden = await patch(work, outsider, task["id"], {"title": "Mine"})
        refused = await patch(work, client_user, task["id"], {"title": "Mine"})

        assert_problem(hidden, 404, "not-found")
        assert_problem(refused, 403, "permission-denied")

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await patch(work, other_agency, task["id"], {"title": "Mine"})

        assert_problem(response, 404, "not-found")
        assert (await get_task(work, agency, task["id"]))["title"] == task["title"]


class TestDeletingTasks:
    async def test_a_deleted_task_is_gone(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await work.delete(f"/v1/tasks/{task['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        gone = await work.get(f"/v1/tasks/{task['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")

    async def test_deleting_publishes_work_task_deleted_with_the_column_the_card_leaves(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        dana = tenant.caller("member")
        project = await new_project(work, agency, dana)
        task = await new_task(
            work, agency, project["id"], title="Old banner", status="review", visible_to_client=True
        )

        response = await work.delete(f"/v1/tasks/{task['id']}", headers=dana.headers)

        assert response.status_code == 204, response.text
        [event] = await work_events(agency.agency_id, "work.task.deleted", task_id=task["id"])
        assert event["subject"] == f"tasks/{task['id']}"
        assert event["data"] == {
            "task_id": task["id"],
            "project_id": project["id"],
            "column_id": task["column_id"],
            "title": "Old banner",
            "visible_to_client": True,
            "actor_id": str(dana.user_id),
        }

    async def test_a_stale_if_match_keeps_it(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        assert (await patch(work, agency, task["id"], {"title": "v2"})).status_code == 200

        response = await work.delete(
            f"/v1/tasks/{task['id']}", headers={**agency.headers, "If-Match": '"1"'}
        )

        assert assert_problem(response, 409, "conflict")["current_version"] == 2
        assert (await get_task(work, agency, task["id"]))["title"] == "v2"
        assert await work_events(agency.agency_id, "work.task.deleted") == []

    async def test_a_member_not_on_the_project_gets_404_and_a_client_403(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency, work_events: WorkEvents
    ) -> None:
        outsider = tenant.caller("member")
        client_user = tenant.caller("client")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        hidden = await work.delete(f"/v1/tasks/{task['id']}", headers=outsider.headers)
        refused = await work.delete(f"/v1/tasks/{task['id']}", headers=client_user.headers)

        assert_problem(hidden, 404, "not-found")
        assert_problem(refused, 403, "permission-denied")
        await get_task(work, agency, task["id"])
        assert await work_events(agency.agency_id, "work.task.deleted") == []

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        work_events: WorkEvents,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await work.delete(f"/v1/tasks/{task['id']}", headers=other_agency.headers)

        assert_problem(response, 404, "not-found")
        await get_task(work, agency, task["id"])
        assert await work_events(agency.agency_id, "work.task.deleted") == []
        assert await work_events(other_agency.agency_id, "work.task.deleted") == []


class TestOptimisticConcurrency:
    async def test_a_stale_if_match_is_refused_with_the_current_version(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"])
        assert (await patch(work, agency, task["id"], {"title": "v2"})).status_code == 200

        stale_move = await move(work, agency, task["id"], columns["Review"], if_match='"1"')
        stale_patch = await patch(work, agency, task["id"], {"title": "v3"}, if_match="1")

        for response in (stale_move, stale_patch):
            body = assert_problem(response, 409, "conflict")
            assert body["current_version"] == 2
        after = await get_task(work, agency, task["id"])
        assert (after["title"], after["status"], after["version"]) == ("v2", "todo", 2)

    async def test_a_fresh_if_match_applies_and_none_applies_too(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        columns = await column_ids(work, agency, project["id"])
        task = await new_task(work, agency, project["id"])

        fresh = await move(work, agency, task["id"], columns["Review"], if_match='"1"')
        etag = fresh.headers["etag"]
        patched = await patch(work, agency, task["id"], {"title": "v3"}, if_match=etag)
        unconditional = await patch(work, agency, task["id"], {"title": "v4"})

        assert fresh.status_code == 200, fresh.text
        assert etag == '"2"'
        assert patched.status_code == 200, patched.text
        assert patched.headers["etag"] == '"3"'
        assert unconditional.status_code == 200, unconditional.text
        assert unconditional.json()["version"] == 4

    async def test_a_malformed_if_match_is_a_bad_request(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await patch(work, agency, task["id"], {"title": "x"}, if_match="banana")

        assert_problem(response, 400, "bad-request")


class TestHostileIfMatch:
    async def test_an_if_match_no_version_can_have_is_400_not_a_500(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        for value in ("99999999999", "9" * 5000, '"-1"'):
            response = await work.patch(
                f"/v1/tasks/{task['id']}",
                json={"title": "Renamed"},
                headers={**agency.headers, "If-Match": value},
            )
            assert_problem(response, 400)
