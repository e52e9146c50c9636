"""Subtasks: added, ticked off and removed, each bumping the task's version; another
agency's answer 404."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import new_project, new_task
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Caller


async def get_task(work: httpx.AsyncClient, who: Caller, task_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


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


class TestSubtasks:
    async def test_subtasks_are_added_ticked_off_and_removed(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        added = await work.post(
            f"/v1/tasks/{task['id']}/subtasks", json={"title": "Proofread"}, headers=agency.headers
        )
        assert added.status_code == 201, added.text
        assert added.headers["etag"] == '"2"'
        subtask = added.json()
        ticked = await work.patch(
            f"/v1/subtasks/{subtask['id']}", json={"done": True}, headers=agency.headers
        )
        assert ticked.status_code == 200, ticked.text
        assert ticked.json()["done"] is True
        after_tick = await get_task(work, agency, task["id"])
        removed = await work.delete(f"/v1/subtasks/{subtask['id']}", headers=agency.headers)

        assert (after_tick["subtasks_total"], after_tick["subtasks_done"]) == (1, 1)
        assert after_tick["version"] == 3
        assert removed.status_code == 204, removed.text
        final = await get_task(work, agency, task["id"])
        assert final["subtasks"] == []
        assert final["version"] == 4

    async def test_another_agency_gets_404(
        self,
        work: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"], subtasks=[{"title": "One"}])
        [subtask] = task["subtasks"]

        added = await work.post(
            f"/v1/tasks/{task['id']}/subtasks", json={"title": "X"}, headers=other_agency.headers
        )
        edited = await work.patch(
            f"/v1/subtasks/{subtask['id']}", json={"done": True}, headers=other_agency.headers
        )
        removed = await work.delete(f"/v1/subtasks/{subtask['id']}", headers=other_agency.headers)

        assert_problem(added, 404, "not-found")
        assert_problem(edited, 404, "not-found")
        assert_problem(removed, 404, "not-found")
