"""Project templates through the real gateway and processes: concurrent switches of the
default leave exactly one. (The service's own rules of templates are tested in-process, in
tests/inprocess/template.)"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession


async def create_template(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/project-templates/{response.json()['id']}"
    template: dict[str, Any] = response.json()
    return template


async def patch_template(
    gateway: httpx.AsyncClient, who: AgencySession, template_id: str, **fields: Any
) -> httpx.Response:
    return await gateway.patch(
        f"/v1/project-templates/{template_id}", json=fields, headers=who.headers
    )


async def all_templates(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> list[dict[str, Any]]:
    response = await gateway.get("/v1/project-templates", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def defaults(gateway: httpx.AsyncClient, who: AgencySession) -> list[str]:
    return [t["id"] for t in await all_templates(gateway, who) if t["is_default"]]


class TestDefaultTemplate:
    async def test_concurrent_switches_leave_exactly_one_default(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        templates = [await create_template(gateway, agency) for _ in range(6)]

        responses = await asyncio.gather(
            *(patch_template(gateway, agency, t["id"], is_default=True) for t in templates),
            *(create_template(gateway, agency, is_default=True) for _ in range(2)),
        )

        assert all(r.status_code == 200 for r in responses[:6]), [r.text for r in responses]
        assert len(await defaults(gateway, agency)) == 1
