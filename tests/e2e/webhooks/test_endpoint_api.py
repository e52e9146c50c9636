"""The webhook endpoints API through the gateway: who may manage endpoints (owners, admins and
admin API keys), one agency never reaching another's, and a replay re-queuing the
agency's real events (work's, over Kafka into the feed) with their original ids."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.inbox import join
from agencyos.testing.infra import wait_for

pytestmark = pytest.mark.e2e

ENDPOINTS = "/v1/webhook-endpoints"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_endpoint(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"url": "https://hooks.example.com/agencyos", "event_types": ["work.*"], **fields}
    response = await gateway.post(ENDPOINTS, json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def api_key(gateway: httpx.AsyncClient, owner: AgencySession, role: str) -> str:
    response = await gateway.post(
        "/v1/api-keys", json={"name": f"{role} key", "role": role}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def test_owners_admins_and_admin_keys_manage_endpoints_no_one_else_does(
    gateway: httpx.AsyncClient, agency: AgencySession
) -> None:
    admin = await join(gateway, agency, "admin", name="Ada Admin")
    manager = await join(gateway, agency, "manager", name="Mona Manager")
    member = await join(gateway, agency, "member", name="Max Member")
    member_key = await api_key(gateway, agency, "member")
    admin_key = await api_key(gateway, agency, "admin")

    created = await create_endpoint(gateway, admin)
    by_key = await gateway.post(
        ENDPOINTS,
        json={"url": "https://hooks.example.com/key", "event_types": ["*"]},
        headers=bearer(admin_key),
    )
    listed = await gateway.get(ENDPOINTS, headers=agency.headers)

    assert created["secret"].startswith("whsec_")
    assert by_key.status_code == 201, by_key.text
    assert listed.status_code == 200
    assert listed.json()["total"] == 2
    assert created["secret"] not in listed.text
    for headers in (manager.headers, member.headers, bearer(member_key)):
        for method, path in (
            ("GET", ENDPOINTS),
            ("GET", f"{ENDPOINTS}/{created['id']}"),
            ("POST", f"{ENDPOINTS}/{created['id']}/rotate-secret"),
            ("DELETE", f"{ENDPOINTS}/{created['id']}"),
        ):
            response = await gateway.request(method, path, headers=headers)
            assert response.status_code == 403, (method, path, response.text)


async def test_another_agency_cannot_see_change_or_use_an_endpoint(
    gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
) -> None:
    created = await create_endpoint(gateway, agency)
    endpoint = f"{ENDPOINTS}/{created['id']}"
    now = datetime.now(UTC)
    window = {
        "since": (now - timedelta(hours=1)).isoformat(),
        "until": (now - timedelta(seconds=1)).isoformat(),
    }

    answers = [
        await gateway.get(endpoint, headers=other_agency.headers),
        await gateway.patch(endpoint, json={"description": "x"}, headers=other_agency.headers),
        await gateway.get(f"{endpoint}/deliveries", headers=other_agency.headers),
        await gateway.post(f"{endpoint}/test", headers=other_agency.headers),
        await gateway.post(f"{endpoint}/replay", json=window, headers=other_agency.headers),
        await gateway.post(f"{endpoint}/rotate-secret", headers=other_agency.headers),
        await gateway.delete(endpoint, headers=other_agency.headers),
    ]
    theirs = await gateway.get(ENDPOINTS, headers=other_agency.headers)
    mine = await gateway.get(endpoint, headers=agency.headers)

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert theirs.json()["items"] == []
    assert mine.status_code == 200
    assert mine.json()["description"] is None


async def test_a_replay_queues_the_agencys_recorded_events_with_their_original_ids(
    gateway: httpx.AsyncClient, agency: AgencySession
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    project = await new_project(gateway, agency, name=f"Replay {uuid.uuid4().hex[:6]}")
    task = await new_task(gateway, agency, project["id"])

    async def recorded() -> list[dict[str, Any]] | None:
        response = await gateway.get(
            "/v1/events", params={"types": "work.*", "limit": 500}, headers=agency.headers
        )
        items: list[dict[str, Any]] = response.json()["items"]
        ours = [i for i in items if i["data"].get("project_id") == project["id"]]
        kinds = {i["type"] for i in ours}
        return ours if {"work.project.created", "work.task.created"} <= kinds else None

    events = await wait_for(recorded, timeout=30, interval=0.2)
    assert isinstance(events, list)
    created = await create_endpoint(gateway, agency, event_types=["work.task.*"])

    response = await gateway.post(
        f"{ENDPOINTS}/{created['id']}/replay",
        json={"since": since.isoformat(), "until": datetime.now(UTC).isoformat()},
        headers=agency.headers,
    )

    assert response.status_code == 202, response.text
    replay = response.json()
    deliveries = await gateway.get(
        f"{ENDPOINTS}/{created['id']}/deliveries",
        params={"event_type": "work.task.created"},
        headers=agency.headers,
    )
    replayed = [
        d for d in deliveries.json()["items"] if d["origin"] == f"replay:{replay['replay_id']}"
    ]
    task_events = [e for e in events if e["type"] == "work.task.created"]
    assert [d["event_id"] for d in replayed] == [e["id"] for e in task_events]
    assert task_events[0]["data"]["task_id"] == task["id"]
    assert replay["queued"] >= 1
