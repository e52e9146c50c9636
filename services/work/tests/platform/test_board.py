"""Boards through the real gateway and processes: columns changed while tasks on the board are
being written never fail the server. (The service's own rules of boards are tested in-process,
in tests/inprocess/board.)"""

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


def column_named(board: dict[str, Any], name: str) -> dict[str, Any]:
    column: dict[str, Any] = next(c for c in board["columns"] if c["name"] == name)
    return column


class TestConcurrentChanges:
    async def test_column_changes_during_task_writes_never_fail_the_server(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        pid = project["id"]
        tasks = [await new_task(gateway, agency, pid) for _ in range(4)]
        board = await get_board(gateway, agency, pid)
        review, done = column_named(board, "Review"), column_named(board, "Done")

        responses = await asyncio.gather(
            *[
                gateway.post(
                    f"/v1/tasks/{t['id']}/move",
                    json={"column_id": review["id"]},
                    headers=agency.headers,
                )
                for t in tasks[:3]
            ],
            gateway.patch(
                f"/v1/columns/{review['id']}", json={"status": "done"}, headers=agency.headers
            ),
            gateway.post(
                f"/v1/projects/{pid}/columns",
                json={"name": "Later", "status": "todo"},
                headers=agency.headers,
            ),
            gateway.post(
                f"/v1/projects/{pid}/tasks",
                json={"title": "Arriving", "column_id": review["id"]},
                headers=agency.headers,
            ),
            gateway.post(
                f"/v1/tasks/{tasks[3]['id']}/comments",
                json={"body": "Meanwhile"},
                headers=agency.headers,
            ),
            gateway.patch(
                f"/v1/tasks/{tasks[3]['id']}", json={"title": "Edited"}, headers=agency.headers
            ),
            gateway.delete(f"/v1/columns/{done['id']}", headers=agency.headers),
        )

        assert all(r.is_success for r in responses), [(r.status_code, r.text) for r in responses]
        board = await get_board(gateway, agency, pid)
        remapped = column_named(board, "Review")
        assert remapped["status"] == "done"
        assert len(remapped["tasks"]) == 4
        assert all(t["status"] == "done" and t["completed_at"] for t in remapped["tasks"])
