"""A client's timeline: logged entries newest first (moving the client's last activity), the
kind filter, validation, and tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Caller


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def timeline(client: httpx.AsyncClient, who: Caller, client_id: str, query: str = "") -> Any:
    response = await client.get(f"/v1/clients/{client_id}/timeline{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestTimeline:
    async def test_logged_entries_come_newest_first_and_move_last_activity(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        now = datetime.now(UTC)
        for kind, hours_ago in (("call", 3), ("meeting", 1), ("note", 2)):
            response = await crm.post(
                f"/v1/clients/{client['id']}/timeline",
                json={
                    "kind": kind,
                    "title": f"A {kind}",
                    "occurred_at": (now - timedelta(hours=hours_ago)).isoformat(),
                },
                headers=agency.headers,
            )
            assert response.status_code == 201, response.text

        page = await timeline(crm, agency, client["id"])

        assert [e["kind"] for e in page["items"]] == ["meeting", "note", "call"]
        assert page["items"][0]["actor_id"] == str(agency.user_id)
        refreshed = await crm.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        last = datetime.fromisoformat(refreshed.json()["last_activity_at"])
        assert abs(last - (now - timedelta(hours=1))) < timedelta(seconds=1)
        only_calls = await timeline(crm, agency, client["id"], "?kind=call")
        assert [e["kind"] for e in only_calls["items"]] == ["call"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "deal_won", "title": "Forged"}, "kind"),
            ({"kind": "note", "title": ""}, "title"),
            (
                {"kind": "note", "title": "Later", "occurred_at": "2099-01-01T00:00:00Z"},
                "occurred_at",
            ),
            (
                {"kind": "note", "title": "Naive", "occurred_at": "2026-01-01T00:00:00"},
                "occurred_at",
            ),
        ],
    )
    async def test_bad_entries_are_422(
        self, crm: httpx.AsyncClient, agency: Caller, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(crm, agency)

        response = await crm.post(
            f"/v1/clients/{client['id']}/timeline", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_a_timeline_time_without_an_offset_is_422(
        self, crm: httpx.AsyncClient, agency: Caller, client: dict[str, Any]
    ) -> None:
        for value in ("0", "2026-01-05T10:00:00"):
            response = await crm.post(
                f"/v1/clients/{client['id']}/timeline",
                json={"kind": "note", "title": "Hi", "occurred_at": value},
                headers=agency.headers,
            )
            assert_invalid_fields(response, "occurred_at")

    async def test_another_agency_cannot_read_or_write_our_timeline(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        url = f"/v1/clients/{client['id']}/timeline"

        assert_problem(await crm.get(url, headers=other_agency.headers), 404)
        assert_problem(
            await crm.post(url, json={"kind": "note", "title": "Hi"}, headers=other_agency.headers),
            404,
        )
