"""Task dependencies: `blocked_by` replaced whole and shown on both tasks; cycles, a task
blocking itself and tasks of other projects refused."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import new_project, new_task
from agencyos.testing.http import assert_invalid_fields
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


class TestDependencies:
    async def test_blocked_by_is_replaced_and_shows_on_both_tasks(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        a, b, c = [await new_task(work, agency, project["id"]) for _ in range(3)]

        first = await patch(work, agency, a["id"], {"blocked_by": [b["id"], c["id"]]})
        second = await patch(work, agency, a["id"], {"blocked_by": [c["id"]]})

        assert first.status_code == 200, first.text
        assert sorted(first.json()["blocked_by"]) == sorted([b["id"], c["id"]])
        assert second.status_code == 200, second.text
        assert second.json()["blocked_by"] == [c["id"]]
        assert second.json()["version"] == 3
        assert (await get_task(work, agency, c["id"]))["blocking"] == [a["id"]]
        assert (await get_task(work, agency, b["id"]))["blocking"] == []

    async def test_a_cycle_is_refused(self, work: httpx.AsyncClient, agency: Caller) -> None:
        project = await new_project(work, agency)
        a, b, c = [await new_task(work, agency, project["id"]) for _ in range(3)]
        assert (await patch(work, agency, a["id"], {"blocked_by": [b["id"]]})).is_success
        assert (await patch(work, agency, b["id"], {"blocked_by": [c["id"]]})).is_success

        response = await patch(work, agency, c["id"], {"blocked_by": [a["id"]]})

        body = assert_invalid_fields(response, "blocked_by")
        assert "cycle" in body["detail"]
        after = await get_task(work, agency, c["id"])
        assert after["blocked_by"] == []
        assert after["version"] == 1

    async def test_a_task_cannot_block_itself(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])

        response = await patch(work, agency, task["id"], {"blocked_by": [task["id"]]})

        assert_invalid_fields(response, "blocked_by")

    async def test_a_task_of_another_project_is_refused(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)
        other = await new_project(work, agency)
        task = await new_task(work, agency, project["id"])
        foreign = await new_task(work, agency, other["id"])

        response = await patch(work, agency, task["id"], {"blocked_by": [foreign["id"]]})

        assert_invalid_fields(response, "blocked_by")
