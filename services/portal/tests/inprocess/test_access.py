"""Who may call the portal's routes: client users only (role `client`, bound to a client by the
token's `cid`); everyone else is refused with a problem naming why, before work is asked."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import InProcess

# Every portal route: (method, path template, JSON body). `{project}`, `{task}` and
# `{deliverable}` are the caller's client's own ids.
ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/portal/dashboard", None),
    ("GET", "/v1/portal/projects", None),
    ("GET", "/v1/portal/projects/{project}", None),
    ("POST", "/v1/portal/deliverables/{deliverable}/approve", None),
    ("POST", "/v1/portal/deliverables/{deliverable}/request-changes", {"comment": "Bigger logo"}),
    ("POST", "/v1/portal/feedback", {"project_id": "{project}", "message": "Hello"}),
    ("GET", "/v1/portal/tasks/{task}/comments", None),
    ("POST", "/v1/portal/tasks/{task}/comments", {"body": "Thanks"}),
]
ROUTE_IDS = [f"{method} {path}" for method, path, _ in ROUTES]
# The routes that take an id of the client's (in the path or the body).
ID_ROUTES = [r for r in ROUTES if "{" in r[1] or r[2]]
ID_ROUTE_IDS = [f"{method} {path}" for method, path, _ in ID_ROUTES]


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def call_route(
    portal: httpx.AsyncClient,
    route: tuple[str, str, dict[str, Any] | None],
    headers: dict[str, str],
    ids: dict[str, str],
) -> httpx.Response:
    method, path, body = route
    return await portal.request(method, _fill(path, ids), json=_fill(body, ids), headers=headers)


def ids_of(scene: Any) -> dict[str, str]:
    return {
        "project": str(scene.x.project_id),
        "task": str(scene.x.visible_task_id),
        "deliverable": str(scene.x.deliverable_id),
    }


class TestOnlyClientUsers:
    @pytest.mark.parametrize("role", ["owner", "admin", "manager", "member"])
    @pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
    async def test_agency_people_are_refused_with_a_problem_naming_why(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        scene: Any,
        role: str,
        route: tuple[str, str, dict[str, Any] | None],
    ) -> None:
        caller = scene.agency.owner if role == "owner" else scene.agency.caller(role)

        response = await call_route(portal, route, caller.headers, ids_of(scene))

        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "client users only" in response.json()["detail"]
        work = in_process.standins.work
        assert work.decisions == []
        assert work.feedback == []
        assert work.deliverables[(scene.agency.id, scene.x.deliverable_id)].status == "submitted"

    @pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
    async def test_a_client_user_bound_to_no_client_is_refused(
        self, portal: httpx.AsyncClient, scene: Any, route: tuple[str, str, dict[str, Any] | None]
    ) -> None:
        token = scene.agency.keys.mint(
            sub=str(uuid.uuid4()), tid=str(scene.agency.id), role="client", sid="s1"
        )

        response = await call_route(
            portal, route, {"Authorization": f"Bearer {token}"}, ids_of(scene)
        )

        assert response.status_code == 403, response.text
        assert "bound to no client" in response.json()["detail"]

    @pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
    async def test_no_token_is_401(
        self, portal: httpx.AsyncClient, scene: Any, route: tuple[str, str, dict[str, Any] | None]
    ) -> None:
        response = await call_route(portal, route, {}, ids_of(scene))

        assert response.status_code == 401, response.text


class TestIsolation:
    """A client user of X reaches nothing of client Y of the same agency, nor of another
    agency's client: every id of theirs answers 404, and nothing changes."""

    @pytest.mark.parametrize("whose", ["y", "elsewhere"])
    @pytest.mark.parametrize("route", ID_ROUTES, ids=ID_ROUTE_IDS)
    async def test_another_clients_ids_answer_404(
        self,
        portal: httpx.AsyncClient,
        in_process: InProcess,
        scene: Any,
        whose: str,
        route: tuple[str, str, dict[str, Any] | None],
    ) -> None:
        other = getattr(scene, whose)
        ids = {
            "project": str(other.project_id),
            "task": str(other.visible_task_id),
            "deliverable": str(other.deliverable_id),
        }

        response = await call_route(portal, route, scene.x.user.headers, ids)

        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        work = in_process.standins.work
        assert work.decisions == []
        assert work.feedback == []
        assert work.comments.get((other.user.agency_id, other.visible_task_id)) is None

    async def test_the_project_list_holds_only_the_callers_clients_projects(
        self, portal: httpx.AsyncClient, scene: Any
    ) -> None:
        response = await portal.get("/v1/portal/projects", headers=scene.x.user.headers)

        assert response.status_code == 200, response.text
        assert [p["id"] for p in response.json()["items"]] == [str(scene.x.project_id)]
