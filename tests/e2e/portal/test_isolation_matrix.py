"""The isolation matrix of the portal's API through the gateway: for every `/v1/portal/*`
route of the gateway's merged OpenAPI (a route without an entry in `ROUTES` fails), with
resources of client X of agency A: X's client user succeeds; Y's client user (another client
of A) gets 404 and nothing of X's; B's client user (another agency) gets 404 likewise; A's
owner, manager and member get 403; no token gets 401. A route that takes no id of X's (a list,
the dashboard) answers Y's and B's users 200 without anything of X's.

Each route's entry says how to make a fresh resource of X for it (so a route that changes
something, an approval, starts from a resource nobody touched) and what X's user gets; the
other callers go first, so X's success also shows that none of them changed anything."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession
from agencyos.testing.inbox import join
from agencyos.testing.platform import Platform

from .portal_support import ClientOfAgency, client_of, ok, sent_invoice, submitted_deliverable

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Scene:
    """Agency A (owner, manager, member; clients X and Y with their users) and agency B (its
    client user b)."""

    owner: AgencySession
    manager: AgencySession
    member: AgencySession
    x: ClientOfAgency
    y: ClientOfAgency
    b: AgencySession


# Makes what a route needs of X's: the values its path and body name (`{project}`...).
Make = Callable[[httpx.AsyncClient, Scene], Awaitable[dict[str, str]]]


async def x_project(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    return {"project": scene.x.project_id}


async def x_task(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    return {"task": scene.x.visible_task_id}


async def fresh_deliverable(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    deliverable = await submitted_deliverable(
        gateway, scene.manager, scene.x.project_id, f"Matrix {uuid.uuid4().hex[:6]}"
    )
    return {"deliverable": deliverable}


async def fresh_invoice(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    invoice = await sent_invoice(gateway, scene.owner, scene.x.client_id, 12_300)
    return {"invoice": invoice["id"]}


FILE_BYTES = b"%PDF-1.4 matrix\n"


async def _to_s3(upload: dict[str, Any]) -> None:
    """Sends the bytes to the real local S3 server by the pre-signed POST, as a browser would."""
    async with httpx.AsyncClient(timeout=30) as s3:
        stored = await s3.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("matrix.pdf", FILE_BYTES, "application/pdf")},
        )
    assert stored.status_code in (200, 201, 204), stored.text


async def shared_file(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    """A file of X's project the team shared with X."""
    body = {
        "name": "matrix.pdf",
        "content_type": "application/pdf",
        "size": len(FILE_BYTES),
        "shared_with_client": True,
    }
    ticket = await ok(
        await gateway.post(
            f"/v1/projects/{scene.x.project_id}/files", json=body, headers=scene.manager.headers
        ),
        201,
    )
    await _to_s3(ticket["upload"])
    file_id = ticket["file"]["id"]
    await ok(await gateway.post(f"/v1/files/{file_id}/complete", headers=scene.manager.headers))
    return {"file": file_id}


async def x_upload(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    """An upload X's user asked for in X's project, its bytes sent, not yet completed."""
    body = {"name": "matrix.pdf", "content_type": "application/pdf", "size": len(FILE_BYTES)}
    ticket = await ok(
        await gateway.post(
            f"/v1/portal/projects/{scene.x.project_id}/uploads",
            json=body,
            headers=scene.x.user.headers,
        ),
        201,
    )
    await _to_s3(ticket["upload"])
    return {"upload": ticket["file"]["id"]}


async def x_dashboard(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    """X's project, a deliverable awaiting X's decision and an open invoice of X's."""
    return {
        **await x_project(gateway, scene),
        **await fresh_deliverable(gateway, scene),
        **await fresh_invoice(gateway, scene),
    }


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with `{name}` for what `make` answers
    make: Make | None = None
    body: dict[str, Any] | None = None
    x_status: int = 200
    # No id of X's in the request: Y's and B's users get 200 without X's ids (which
    # `x_marks` names: the keys of `make`'s answer whose values must not show).
    x_marks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> str:
        return f"{self.method} {normalized(self.path)}"

    @property
    def scoped_list(self) -> bool:
        return bool(self.x_marks)


def normalized(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


# Every portal route. Adding a route to the portal means adding its entry here.
ROUTES: list[Route] = [
    Route(
        "GET",
        "/v1/portal/dashboard",
        x_dashboard,
        x_marks=("project", "deliverable", "invoice"),
    ),
    Route("GET", "/v1/portal/projects", x_project, x_marks=("project",)),
    Route("GET", "/v1/portal/projects/{project}", x_project),
    Route("POST", "/v1/portal/deliverables/{deliverable}/approve", fresh_deliverable),
    Route(
        "POST",
        "/v1/portal/deliverables/{deliverable}/request-changes",
        fresh_deliverable,
        body={"comment": "Bigger logo, please"},
    ),
    Route(
        "POST",
        "/v1/portal/feedback",
        x_project,
        body={"project_id": "{project}", "message": "The logo is blurry"},
        x_status=201,
    ),
    Route("GET", "/v1/portal/tasks/{task}/comments", x_task),
    Route(
        "POST",
        "/v1/portal/tasks/{task}/comments",
        x_task,
        body={"body": "Looks good"},
        x_status=201,
    ),
    # Files (work's, in the real local S3 server).
    Route("GET", "/v1/portal/files/{file}/download", shared_file),
    Route(
        "POST",
        "/v1/portal/projects/{project}/uploads",
        x_project,
        body={"name": "shot.png", "content_type": "image/png", "size": 1024},
        x_status=201,
    ),
    Route("POST", "/v1/portal/uploads/{upload}/complete", x_upload),
    # Invoices (billing's portal routes).
    Route("GET", "/v1/portal/invoices", fresh_invoice, x_marks=("invoice",)),
    Route("GET", "/v1/portal/invoices/{invoice}", fresh_invoice),
    Route("GET", "/v1/portal/invoices/{invoice}/pdf", fresh_invoice),
    Route("POST", "/v1/portal/invoices/{invoice}/pay", fresh_invoice),
]
BY_KEY = {route.key: route for route in ROUTES}
assert len(BY_KEY) == len(ROUTES), "a route is in the table twice"


async def portal_routes(gateway: httpx.AsyncClient) -> set[str]:
    """`METHOD /v1/portal/...` of every portal operation in the gateway's merged OpenAPI."""
    spec = await ok(await gateway.get("/openapi.json"))
    return {
        f"{method.upper()} {normalized(path)}"
        for path, operations in spec["paths"].items()
        if path.startswith("/v1/portal/")
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


async def make_scene(
    gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
) -> Scene:
    manager = await join(gateway, agency, "manager", name="Mona Manager")
    member = await join(gateway, agency, "member", name="Mel Member")
    x = await client_of(gateway, agency, manager, "Xeno")
    y = await client_of(gateway, agency, manager, "Yara")
    theirs = await create_client(gateway, other_agency, company_name="Zeta Corp")
    b = await join(gateway, other_agency, "client", name="Zed Client", client_id=theirs["id"])
    return Scene(agency, manager, member, x, y, b)


class TestIsolationMatrix:
    async def test_every_portal_route_has_an_entry(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        served = await portal_routes(gateway)

        missing = sorted(served - set(BY_KEY))
        assert missing == [], f"portal routes without an isolation entry: {missing}"
        assert {"GET /v1/portal/dashboard", "GET /v1/portal/projects/{}"} <= served

    async def test_only_the_clients_own_user_reaches_its_resources(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        served = await portal_routes(gateway)
        scene = await make_scene(gateway, agency, other_agency)
        wrong: list[str] = []
        checked = 0

        for route in ROUTES:
            if route.key not in served:
                continue  # not served by this build (another part of the portal)
            wrong += await check_route(gateway, scene, route)
            checked += 1

        assert wrong == [], "\n".join(wrong)
        assert checked >= 8


def answered_besides_the_path(response: httpx.Response) -> str:
    """The answer without the problem's `instance` (the request's own path, echoed)."""
    try:
        body = response.json()
    except ValueError:
        return response.text
    if isinstance(body, dict):
        body.pop("instance", None)
    return json.dumps(body)


async def check_route(gateway: httpx.AsyncClient, scene: Scene, route: Route) -> list[str]:
    """What goes wrong on one route, for every caller (empty when all is as it should be)."""
    ids = await route.make(gateway, scene) if route.make else {}
    path, body = fill(route.path, ids), fill(route.body, ids)
    wrong: list[str] = []

    async def call(headers: dict[str, str]) -> httpx.Response:
        return await gateway.request(route.method, path, json=body, headers=headers)

    for name, who in {"y": scene.y.user, "b": scene.b}.items():
        response = await call(who.headers)
        if route.scoped_list:
            expected = 200
            leaked = [k for k in route.x_marks if ids[k] in response.text]
        else:
            expected = 404
            told = answered_besides_the_path(response)
            leaked = [k for k, v in ids.items() if v in told]
            leaked += ["Xeno"] if "Xeno" in told else []
        if response.status_code != expected or leaked:
            shown = f", shows {leaked}" if leaked else ""
            wrong.append(
                f"{route.key} as {name}: {response.status_code} (want {expected}){shown}: "
                f"{response.text[:200]}"
            )
    staff = {"owner": scene.owner, "manager": scene.manager, "member": scene.member}
    for name, who in staff.items():
        response = await call(who.headers)
        if response.status_code != 403:
            wrong.append(f"{route.key} as {name}: {response.status_code} (want 403)")
    response = await call({})
    if response.status_code != 401:
        wrong.append(f"{route.key} without a token: {response.status_code} (want 401)")
    # X's own user last: nothing the others did changed what it reaches.
    response = await call(scene.x.user.headers)
    if response.status_code != route.x_status:
        wrong.append(
            f"{route.key} as x: {response.status_code} (want {route.x_status}): "
            f"{response.text[:200]}"
        )
    elif route.scoped_list and not all(ids[k] in response.text for k in route.x_marks):
        wrong.append(f"{route.key} as x: its own {list(route.x_marks)} missing")
    return wrong
