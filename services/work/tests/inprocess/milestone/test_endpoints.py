"""Milestones through work's API: create, list, read, update, delete; completion and the
event it writes (once; a second completion is 409); a milestone with tasks stays; validation,
members' read-only access and another agency's ids answering 404."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_milestone(
    work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Milestone {uuid.uuid4().hex[:6]}", **fields}
    response = await work.post(
        f"/v1/projects/{project_id}/milestones", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    milestone: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/milestones/{milestone['id']}"
    return milestone


class TestMilestones:
    async def test_create_list_get_update_and_delete(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency, currency="EUR")
        pid = project["id"]
        later = await create_milestone(
            work, agency, pid, name="  Launch ", due_date="2027-02-01", amount_cents=500_000
        )
        sooner = await create_milestone(work, agency, pid, name="Design", due_date="2027-01-01")
        undated = await create_milestone(work, agency, pid, name="Polish")

        assert later["name"] == "Launch"
        assert (later["amount_cents"], later["currency"]) == (500_000, "EUR")
        assert (later["status"], later["completed_at"]) == ("open", None)
        assert later["project_id"] == pid
        assert sooner["amount_cents"] is None

        listed = await work.get(f"/v1/projects/{pid}/milestones", headers=agency.headers)
        assert listed.status_code == 200, listed.text
        page = listed.json()
        assert (page["total"], page["page"]) == (3, 1)
        assert [m["name"] for m in page["items"]] == ["Design", "Launch", "Polish"]
        by_name = await work.get(
            f"/v1/projects/{pid}/milestones",
            params={"sort": "-name", "per_page": 2},
            headers=agency.headers,
        )
        assert [m["name"] for m in by_name.json()["items"]] == ["Polish", "Launch"]
        assert by_name.json()["total"] == 3

        got = await work.get(f"/v1/milestones/{later['id']}", headers=agency.headers)
        assert got.json() == later

        patched = await work.patch(
            f"/v1/milestones/{later['id']}",
            json={"name": "Go live", "due_date": None, "amount_cents": 0},
            headers=agency.headers,
        )
        assert patched.status_code == 200, patched.text
        assert (patched.json()["name"], patched.json()["due_date"]) == ("Go live", None)
        assert patched.json()["amount_cents"] == 0

        deleted = await work.delete(f"/v1/milestones/{undated['id']}", headers=agency.headers)
        assert deleted.status_code == 204, deleted.text
        gone = await work.get(f"/v1/milestones/{undated['id']}", headers=agency.headers)
        assert_problem(gone, 404, "not-found")
        open_only = await work.get(
            f"/v1/projects/{pid}/milestones", params={"status": "open"}, headers=agency.headers
        )
        assert {m["id"] for m in open_only.json()["items"]} == {later["id"], sooner["id"]}

    async def test_completing_publishes_the_event_once_and_a_second_completion_is_409(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency, currency="GBP")
        milestone = await create_milestone(work, agency, project["id"], amount_cents=120_000)
        url = f"/v1/milestones/{milestone['id']}"

        completed = await work.post(f"{url}/complete", headers=agency.headers)
        again = await work.post(f"{url}/complete", headers=agency.headers)
        undelete = await work.delete(url, headers=agency.headers)
        # Reopened (billing dedupes by id) and completed again through PATCH: a second event.
        reopened = await work.patch(url, json={"status": "open"}, headers=agency.headers)
        recompleted = await work.patch(url, json={"status": "completed"}, headers=agency.headers)

        assert completed.status_code == 200, completed.text
        assert completed.json()["status"] == "completed"
        assert completed.json()["completed_at"] is not None
        assert_problem(again, 409, "conflict")
        assert_problem(undelete, 409, "conflict")
        assert reopened.status_code == 200, reopened.text
        assert (reopened.json()["status"], reopened.json()["completed_at"]) == ("open", None)
        assert recompleted.json()["status"] == "completed"

        events = await work_events(
            agency.agency_id, "work.milestone.completed", milestone_id=milestone["id"]
        )
        assert len(events) == 2
        first = events[0]
        assert first["subject"] == f"milestones/{milestone['id']}"
        assert first["source"].endswith("work")
        assert {k: first["data"][k] for k in ("project_id", "name", "amount_cents")} == {
            "project_id": project["id"],
            "name": milestone["name"],
            "amount_cents": 120_000,
        }
        assert (first["data"]["currency"], first["data"]["client_id"]) == ("GBP", None)
        # The 409 published nothing: the events are the two real completions, in order.
        assert [e["data"]["completed_at"] for e in events] == [
            completed.json()["completed_at"],
            recompleted.json()["completed_at"],
        ]

    async def test_a_milestone_with_tasks_cannot_be_deleted(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        milestone = await create_milestone(work, agency, project["id"])
        task = await work.post(
            f"/v1/projects/{project['id']}/tasks",
            json={"title": "Build it", "milestone_id": milestone["id"]},
            headers=agency.headers,
        )
        assert task.status_code == 201, task.text

        refused = await work.delete(f"/v1/milestones/{milestone['id']}", headers=agency.headers)

        body = assert_problem(refused, 409, "conflict")
        assert "task" in body["detail"]
        still = await work.get(f"/v1/milestones/{milestone['id']}", headers=agency.headers)
        assert still.status_code == 200

    async def test_bad_input_is_422_naming_the_field(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        url = f"/v1/projects/{project['id']}/milestones"
        milestone = await create_milestone(work, agency, project["id"])
        one = f"/v1/milestones/{milestone['id']}"

        cases = [
            (await work.post(url, json={"name": " "}, headers=agency.headers), "name"),
            (await work.post(url, json={}, headers=agency.headers), "name"),
            (
                await work.post(url, json={"name": "x\u0000y"}, headers=agency.headers),
                "name",
            ),
            (
                await work.post(
                    url, json={"name": "X", "amount_cents": -1}, headers=agency.headers
                ),
                "amount_cents",
            ),
            (
                await work.post(
                    url, json={"name": "X", "due_date": "soon"}, headers=agency.headers
                ),
                "due_date",
            ),
            (
                await work.post(url, json={"name": "X", "owner": 1}, headers=agency.headers),
                "owner",
            ),
            (await work.patch(one, json={"name": None}, headers=agency.headers), "name"),
            (await work.patch(one, json={"status": None}, headers=agency.headers), "status"),
            (
                await work.patch(one, json={"status": "billed"}, headers=agency.headers),
                "status",
            ),
            (
                await work.get(url, params={"sort": "amount"}, headers=agency.headers),
                "query.sort",
            ),
        ]
        for response, field in cases:
            assert_invalid_fields(response, field)
        malformed = await work.get("/v1/milestones/not-a-uuid", headers=agency.headers)
        assert_invalid_fields(malformed, "path.milestone_id")

    async def test_members_read_their_projects_milestones_but_cannot_write(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency)
        milestone = await create_milestone(work, agency, project["id"])
        list_url = f"/v1/projects/{project['id']}/milestones"
        one = f"/v1/milestones/{milestone['id']}"

        # Not on the project: it does not exist for them.
        assert_problem(await work.get(one, headers=member.headers), 404)
        assert_problem(await work.get(list_url, headers=member.headers), 404)
        added = await work.post(
            f"/v1/projects/{project['id']}/members",
            json={"user_id": str(member.user_id)},
            headers=agency.headers,
        )
        assert added.status_code in (200, 201), added.text
        assert (await work.get(one, headers=member.headers)).status_code == 200
        assert (await work.get(list_url, headers=member.headers)).json()["total"] == 1

        writes = [
            await work.post(list_url, json={"name": "M"}, headers=member.headers),
            await work.patch(one, json={"name": "M"}, headers=member.headers),
            await work.post(f"{one}/complete", headers=member.headers),
            await work.delete(one, headers=member.headers),
        ]
        for response in writes:
            assert_problem(response, 403, "permission-denied")

    async def test_another_agency_gets_404_on_every_route(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        milestone = await create_milestone(work, agency, project["id"])
        list_url = f"/v1/projects/{project['id']}/milestones"
        one = f"/v1/milestones/{milestone['id']}"
        them = other_agency.headers

        responses = [
            await work.get(list_url, headers=them),
            await work.post(list_url, json={"name": "Mine now"}, headers=them),
            await work.get(one, headers=them),
            await work.patch(one, json={"name": "Mine now"}, headers=them),
            await work.post(f"{one}/complete", headers=them),
            await work.delete(one, headers=them),
        ]
        for response in responses:
            assert_problem(response, 404, "not-found")
        unchanged = await work.get(one, headers=agency.headers)
        assert (unchanged.json()["name"], unchanged.json()["status"]) == (
            milestone["name"],
            "open",
        )
