"""The client's decisions on its deliverables, recorded by work; work's refusals answered as
problems."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import InProcess


class TestApprove:
    async def test_approves_a_submitted_deliverable(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        response = await portal.post(
            f"/v1/portal/deliverables/{scene.x.deliverable_id}/approve",
            json={"comment": "Lovely"},
            headers=scene.x.user.headers,
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id"] == str(scene.x.deliverable_id)
        assert body["status"] == "approved"
        assert body["decided_at"] is not None
        [(who, method, request)] = in_process.standins.work.decisions
        assert (who, method, request.comment) == (
            scene.x.user.user_id,
            "ApproveDeliverable",
            "Lovely",
        )

    async def test_approves_without_a_body(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        response = await portal.post(
            f"/v1/portal/deliverables/{scene.x.deliverable_id}/approve",
            headers=scene.x.user.headers,
        )

        assert response.status_code == 200, response.text
        assert in_process.standins.work.decisions[0][2].comment == ""

    async def test_a_decided_deliverable_answers_412(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        path = f"/v1/portal/deliverables/{scene.x.deliverable_id}"
        first = await portal.post(f"{path}/approve", headers=scene.x.user.headers)
        assert first.status_code == 200, first.text

        again = await portal.post(
            f"{path}/request-changes", json={"comment": "Wait"}, headers=scene.x.user.headers
        )

        assert again.status_code == 412, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        assert "approved" in again.json()["detail"]


class TestRequestChanges:
    async def test_sends_the_deliverable_back_with_the_comment(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any
    ) -> None:
        response = await portal.post(
            f"/v1/portal/deliverables/{scene.x.deliverable_id}/request-changes",
            json={"comment": "  Use our new colours  "},
            headers=scene.x.user.headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "changes_requested"
        [(_, method, request)] = in_process.standins.work.decisions
        assert (method, request.comment) == ("RequestDeliverableChanges", "Use our new colours")

    @pytest.mark.parametrize(
        "body",
        [{}, {"comment": ""}, {"comment": "   "}, {"comment": "x" * 10_001}, {"comment": None}],
        ids=["missing", "empty", "blank", "too-long", "null"],
    )
    async def test_a_missing_or_bad_comment_is_422(
        self, portal: httpx.AsyncClient, in_process: InProcess, scene: Any, body: dict[str, Any]
    ) -> None:
        response = await portal.post(
            f"/v1/portal/deliverables/{scene.x.deliverable_id}/request-changes",
            json=body,
            headers=scene.x.user.headers,
        )

        assert response.status_code == 422, response.text
        assert "comment" in response.text
        assert in_process.standins.work.decisions == []

    async def test_an_unknown_deliverable_is_404(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        response = await portal.post(
            f"/v1/portal/deliverables/{scene.x.project_id}/request-changes",
            json={"comment": "Hm"},
            headers=scene.x.user.headers,
        )

        assert response.status_code == 404, response.text
