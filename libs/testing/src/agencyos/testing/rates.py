"""time's billable and cost rates as tests set them, through time's API."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx


class Person(Protocol):
    """Anyone calling with a token: an `AgencySession` or an in-process `Caller`."""

    @property
    def user_id(self) -> uuid.UUID: ...

    @property
    def headers(self) -> dict[str, str]: ...


async def create_rate(time_api: httpx.AsyncClient, who: Person, **fields: Any) -> dict[str, Any]:
    response = await time_api.post("/v1/rates", json=fields, headers=who.headers)
    assert response.status_code == 201, response.text
    rate: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/rates/{rate['id']}"
    return rate


async def list_rates(time_api: httpx.AsyncClient, who: Person, **params: Any) -> dict[str, Any]:
    response = await time_api.get("/v1/rates", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def rate_fields(
    scope: str,
    cents: int,
    effective_from: str,
    *,
    kind: str = "billable",
    user: Person | None = None,
    project: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of `POST /v1/rates` for a rate of `scope` (agency, member, project,
    project_member) from `effective_from` on."""
    fields: dict[str, Any] = {
        "kind": kind,
        "scope": scope,
        "hourly_rate_cents": cents,
        "effective_from": effective_from,
    }
    if user is not None:
        fields["user_id"] = str(user.user_id)
    if project is not None:
        fields["project_id"] = project["id"]
    return fields
