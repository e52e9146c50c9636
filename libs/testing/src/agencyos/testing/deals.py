"""CRM deals in tests: creating clients and deals through the gateway, moving them, reading
the board, the list and the pipeline, the agency's events on crm.events, and timeline rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.kafka import Record, events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def create_client(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_deal(
    gateway: httpx.AsyncClient, who: AgencySession, client: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deal {uuid.uuid4().hex[:6]}", "client_id": client["id"], **fields}
    if "currency" not in body and not client.get("currency"):
        body["currency"] = "EUR"
    response = await gateway.post("/v1/deals", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create_template(gateway: httpx.AsyncClient, who: AgencySession) -> str:
    """The id of a new project template of `who`'s agency (a deal may name only its own)."""
    response = await gateway.post(
        "/v1/project-templates",
        json={"name": f"Template {uuid.uuid4().hex[:6]}", "billing_type": "fixed"},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def get_deal(gateway: httpx.AsyncClient, who: AgencySession, deal_id: str) -> dict[str, Any]:
    response = await gateway.get(f"/v1/deals/{deal_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    deal: dict[str, Any] = response.json()
    return deal


async def move(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: str, **body: Any
) -> httpx.Response:
    return await gateway.put(f"/v1/deals/{deal_id}/stage", json=body, headers=who.headers)


async def moved(
    gateway: httpx.AsyncClient, who: AgencySession, deal_id: str, **body: Any
) -> dict[str, Any]:
    response = await move(gateway, who, deal_id, **body)
    assert response.status_code == 200, response.text
    deal: dict[str, Any] = response.json()
    return deal


async def default_pipeline(gateway: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    response = await gateway.get("/v1/pipelines", headers=who.headers)
    assert response.status_code == 200, response.text
    pipeline: dict[str, Any] = next(p for p in response.json()["items"] if p["is_default"])
    return pipeline


def stage_id(pipeline: dict[str, Any], name: str) -> str:
    return str(next(s["id"] for s in pipeline["stages"] if s["name"] == name))


async def board(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> dict[str, Any]:
    response = await gateway.get("/v1/deals/board", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def column(board_view: dict[str, Any], name: str) -> list[str]:
    stage = next(s for s in board_view["stages"] if s["name"] == name)
    return [d["title"] for d in stage["deals"]]


async def list_deals(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    response = await gateway.get("/v1/deals", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def crm_events(
    platform: Platform, who: AgencySession, until: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The agency's events on crm.events, read until `until(events)` holds."""
    tenant = str(who.agency_id)

    def ours(records: list[Record]) -> list[dict[str, Any]]:
        return events_where(records, tenantid=tenant)

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        f"{platform.topic_prefix}crm.events",
        lambda records: until(ours(records)),
        timeout=30,
    )
    return ours(records)


def about(events: list[dict[str, Any]], deal_id: str, type_: str | None = None) -> list[Any]:
    return [
        e
        for e in events
        if e["data"].get("deal_id") == deal_id and (type_ is None or e["type"] == type_)
    ]


async def timeline_rows(platform: Platform, who: AgencySession, client_id: str) -> list[Any]:
    return await fetch_rows(
        platform.infra,
        platform.database("crm"),
        "SELECT kind, title, body, data, actor_id, source_event_id FROM timeline_entries "
        "WHERE client_id = $1 ORDER BY occurred_at, created_at",
        uuid.UUID(client_id),
        tenant_id=who.agency_id,
        owner=True,
    )
