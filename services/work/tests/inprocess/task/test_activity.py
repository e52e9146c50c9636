"""The task and project activity feeds: every change with field-level old and new values,
newest first, deleted tasks included; members off the project and other agencies get 404."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import new_project, new_task
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller


async def comment(
    work: httpx.AsyncClient, who: Caller, task_id: str, **body: Any
) -> httpx.Response:
    return await work.post(f"/v1/tasks/{task_id}/comments", json=body, headers=who.headers)


async def activity_of(
    work: httpx.AsyncClient, who: Caller, url: str, **params: Any
) -> dict[str, Any]:
    response = await work.get(url, params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def changes_of(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["old"], c["new"]) for c in entry["changes"]}


class TestActivity:
    async def test_every_change_is_logged_with_old_and_new_values_newest_first(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, agency, member)
        blocker = await new_task(work, agency, project["id"])
        task = await new_task(work, agency, project["id"], title="Draft", priority="low")
        board = (
            await work.get(f"/v1/projects/{project['id']}/board", headers=agency.headers)
        ).json()
        columns = {c["name"]: c["id"] for c in board["columns"]}

        steps = [
            await work.patch(
                f"/v1/tasks/{task['id']}",
                json={"title": "Final", "priority": "high", "blocked_by": [blocker["id"]]},
                headers=member.headers,
            ),
            await work.post(
                f"/v1/tasks/{task['id']}/move",
                json={"column_id": columns["Done"]},
                headers=member.headers,
            ),
            await work.post(
                f"/v1/tasks/{task['id']}/subtasks", json={"title": "Check"}, headers=member.headers
            ),
            await comment(work, member, task["id"], body="All done"),
        ]
        assert all(s.is_success for s in steps), [s.text for s in steps]

        page = await activity_of(work, agency, f"/v1/tasks/{task['id']}/activity")

        actions = [e["action"] for e in page["items"]]
        assert actions == ["comment_added", "subtask_added", "completed", "updated", "created"]
        assert page["total"] == 5
        commented, subtask, completed, updated, created = page["items"]
        assert all(e["actor_id"] == str(member.user_id) for e in page["items"][:4])
        assert created["actor_id"] == str(agency.user_id)
        assert changes_of(updated) == {
            "title": ("Draft", "Final"),
            "priority": ("low", "high"),
            "blocked_by": ([], [blocker["id"]]),
        }
        moved = changes_of(completed)
        assert moved["column_id"] == (columns["To do"], columns["Done"])
        assert moved["status"] == ("todo", "done")
        assert moved["completed_at"][0] is None
        assert moved["completed_at"][1]
        assert changes_of(subtask)["subtask"][1]["title"] == "Check"
        assert changes_of(commented)["comment"][1]["excerpt"] == "All done"
        assert changes_of(created)["title"] == (None, "Draft")
        stamps = [e["occurred_at"] for e in page["items"]]
        assert stamps == sorted(stamps, reverse=True)

    async def test_the_project_feed_covers_all_tasks_including_deleted_ones(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        kept = await new_task(work, agency, project["id"])
        gone = await new_task(work, agency, project["id"], title="Short-lived")
        deleted = await work.delete(f"/v1/tasks/{gone['id']}", headers=agency.headers)
        assert deleted.status_code == 204, deleted.text

        page = await activity_of(work, agency, f"/v1/projects/{project['id']}/activity")
        second_page = await activity_of(
            work,
            agency,
            f"/v1/projects/{project['id']}/activity",
            per_page=2,
            page=2,
        )

        assert [(e["task_id"], e["action"]) for e in page["items"]] == [
            (gone["id"], "deleted"),
            (gone["id"], "created"),
            (kept["id"], "created"),
        ]
        assert changes_of(page["items"][0])["title"] == ("Short-lived", None)
        assert [e["id"] for e in second_page["items"]] == [page["items"][2]["id"]]
        assert second_page["total"] == 3

    async def test_a_member_not_on_the_project_and_another_agency_get_404(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller, tenant: Agency
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        for stranger in (outsider, other_agency):
            for url in (
                f"/v1/tasks/{task['id']}/activity",
                f"/v1/projects/{project['id']}/activity",
            ):
                response = await work.get(url, headers=stranger.headers)
                assert_problem(response, 404, "not-found")
