"""Tasks through the real gateway and processes: concurrent edits cannot close a dependency
cycle between them, and two concurrent moves with the same If-Match apply exactly once. (The
service's own rules of tasks are tested in-process, in tests/inprocess/task.)"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from agencyos.testing.factories import (
    AgencySession,
    get_board,
    new_project,
    new_task,
)
from agencyos.testing.http import assert_problem


async def column_ids(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str
) -> dict[str, str]:
    """Column name → id."""
    board = await get_board(gateway, who, project_id)
    return {c["name"]: c["id"] for c in board["columns"]}


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


class TestDependencies:
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


class TestOptimisticConcurrency:
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
