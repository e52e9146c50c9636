"""Comments on the tasks a client sees: only client-visible ones, read and written through
work."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import InProcess


class TestComments:
    async def test_lists_only_client_visible_comments(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        work = in_process.standins.work
        owner = scene.agency.owner.user_id
        work.add_comment(scene.agency.id, scene.x.visible_task_id, owner, "internal: rate talk")
        shared = work.add_comment(
            scene.agency.id, scene.x.visible_task_id, owner, "Ready soon", visibility="client"
        )

        response = await portal.get(
            f"/v1/portal/tasks/{scene.x.visible_task_id}/comments", headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        [comment] = response.json()["items"]
        assert comment["id"] == str(shared)
        assert comment["body"] == "Ready soon"
        assert "visibility" not in comment
        assert "rate talk" not in response.text

    async def test_adds_a_client_visible_comment_the_client_then_reads(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        path = f"/v1/portal/tasks/{scene.x.visible_task_id}/comments"

        response = await portal.post(
            path, json={"body": "Could this be ready by Friday?"}, headers=scene.x.user.headers
        )

        assert response.status_code == 201, response.text
        assert response.json()["author_id"] == str(scene.x.user.user_id)
        [stored] = in_process.standins.work.comments[(scene.agency.id, scene.x.visible_task_id)]
        assert stored.visibility == "client"
        listed = await portal.get(path, headers=scene.x.user.headers)
        assert [c["body"] for c in listed.json()["items"]] == ["Could this be ready by Friday?"]

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_an_internal_task_is_404(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any, method: str
    ) -> None:
        response = await portal.request(
            method,
            f"/v1/portal/tasks/{scene.x.internal_task_id}/comments",
            json={"body": "Hello"} if method == "POST" else None,
            headers=scene.x.user.headers,
        )

        assert response.status_code == 404, response.text
        assert response.json()["detail"] == "no such task"
        assert (scene.agency.id, scene.x.internal_task_id) not in in_process.standins.work.comments

    @pytest.mark.parametrize(
        "body",
        [{}, {"body": ""}, {"body": " \n "}, {"body": "x" * 20_001}, {"body": "a", "x": 1}],
        ids=["missing", "empty", "blank", "too-long", "unknown-field"],
    )
    async def test_a_bad_body_is_422(
        self, portal: httpx.AsyncClient, scene: Any, body: dict[str, Any]
    ) -> None:
        response = await portal.post(
            f"/v1/portal/tasks/{scene.x.visible_task_id}/comments",
            json=body,
            headers=scene.x.user.headers,
        )

        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
