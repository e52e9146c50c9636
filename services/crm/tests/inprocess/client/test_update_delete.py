"""Changing and deleting a client: a patch changes only the fields sent (and writes the change
to the outbox), its validation, a unique external id, and deletion (a client with history is
archived instead)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Caller, ServiceInProcess
from agencyos.testing.sql import fetch_rows


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


class TestUpdatingClients:
    async def test_patch_changes_only_the_fields_sent_and_writes_the_change_to_the_outbox(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        client = await create_client(crm, agency, industry="Retail", tags=["a"])

        response = await crm.patch(
            f"/v1/clients/{client['id']}",
            json={"status": "active", "tags": ["a", "b"], "country": "DE", "industry": None},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["tags"], body["country"], body["industry"]) == (
            "active",
            ["a", "b"],
            "DE",
            None,
        )
        assert body["company_name"] == client["company_name"]
        rows = await fetch_rows(
            crm_service.infra,
            crm_service.database,
            "SELECT envelope FROM outbox WHERE event_type = 'crm.client.updated'",
            tenant_id=agency.agency_id,
            owner=True,
        )
        (event,) = [json.loads(r["envelope"]) for r in rows]
        assert event["subject"] == f"clients/{client['id']}"
        assert event["data"]["changed_fields"] == ["country", "industry", "status", "tags"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"company_name": None}, "company_name"),
            ({"company_name": "  "}, "company_name"),
            ({"country": "Germany"}, "country"),
            ({"currency": "euro"}, "currency"),
            ({"website": "not a url"}, "website"),
            ({"tags": ["x" * 51]}, "tags.0"),
            ({"owner_id": str(uuid.uuid4())}, "owner_id"),
            ({"colour": "red"}, "colour"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, crm: httpx.AsyncClient, agency: Caller, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(crm, agency)

        response = await crm.patch(f"/v1/clients/{client['id']}", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_two_clients_cannot_share_an_external_id(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        await create_client(crm, agency, external_id="ERP-1")
        other = await create_client(crm, agency)

        response = await crm.patch(
            f"/v1/clients/{other['id']}", json={"external_id": "ERP-1"}, headers=agency.headers
        )

        assert_problem(response, 409)


class TestDeletingClients:
    async def test_a_client_without_history_is_deleted_with_its_contacts(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        contact = await crm.post(
            f"/v1/clients/{client['id']}/contacts", json={"name": "Ann"}, headers=agency.headers
        )
        assert contact.status_code == 201, contact.text

        response = await crm.delete(f"/v1/clients/{client['id']}", headers=agency.headers)

        assert response.json() == {"outcome": "deleted", "client": None}
        assert_problem(await crm.get(f"/v1/clients/{client['id']}", headers=agency.headers), 404)

    async def test_a_client_with_history_is_archived_instead(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        await crm.post(
            f"/v1/clients/{client['id']}/timeline",
            json={"kind": "note", "title": "Met at a fair"},
            headers=agency.headers,
        )

        response = await crm.delete(f"/v1/clients/{client['id']}", headers=agency.headers)

        assert response.json()["outcome"] == "archived"
        kept = await crm.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        assert kept.json()["status"] == "archived"
        entries = await crm.get(f"/v1/clients/{client['id']}/timeline", headers=agency.headers)
        assert entries.status_code == 200, entries.text
        assert entries.json()["total"] == 1
