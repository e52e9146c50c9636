"""CRM records every deletion and every export in the agency's audit log (an `audit.recorded`
event in its outbox, in the action's transaction): clients (deleted, or archived when they
have history), contacts, deals, pipeline stages, and the clients' CSV export; the actor is the
caller (an API key as `api_key`); a refused deletion records nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.audit_records import AuditRecord, assert_no_secret, audit_records
from agencyos.testing.deals import create_client, create_deal
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess

# What a maker answers: the DELETE path of what it made, its id, and the fields the audit
# record should keep as they were.
Made = tuple[str, str, dict[str, Any]]
Make = Callable[[httpx.AsyncClient, Caller], Awaitable[Made]]


async def only(crm_service: ServiceInProcess, action: str, who: Caller) -> AuditRecord:
    records = await audit_records(crm_service, action=action, tenant_id=who.agency_id)
    assert len(records) == 1, [r.action for r in records]
    record = records[0]
    assert record.source_service == "crm"
    return record


async def a_client(crm: httpx.AsyncClient, who: Caller) -> Made:
    client = await create_client(crm, who, company_name="Acme Ltd", status="active")
    return (
        f"/v1/clients/{client['id']}",
        client["id"],
        {"company_name": "Acme Ltd", "status": "active"},
    )


async def a_contact(crm: httpx.AsyncClient, who: Caller) -> Made:
    client = await create_client(crm, who)
    response = await crm.post(
        f"/v1/clients/{client['id']}/contacts",
        json={"name": "Ada Lovelace", "email": "ada@acme.example"},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    contact = response.json()
    return (
        f"/v1/clients/{client['id']}/contacts/{contact['id']}",
        contact["id"],
        {"name": "Ada Lovelace", "email": "ada@acme.example", "is_primary": True},
    )


async def a_deal(crm: httpx.AsyncClient, who: Caller) -> Made:
    client = await create_client(crm, who, currency="EUR")
    deal = await create_deal(crm, who, client, title="Website", value_cents=500_000)
    return (
        f"/v1/deals/{deal['id']}",
        deal["id"],
        {
            "title": "Website",
            "value_cents": 500_000,
            "currency": "EUR",
            "stage_id": deal["stage_id"],
        },
    )


async def a_stage(crm: httpx.AsyncClient, who: Caller) -> Made:
    pipelines = await crm.get("/v1/pipelines", headers=who.headers)
    assert pipelines.status_code == 200, pipelines.text
    pipeline = pipelines.json()["items"][0]
    response = await crm.post(
        f"/v1/pipelines/{pipeline['id']}/stages",
        json={"name": "Discovery", "probability": 25},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    stage = response.json()
    return (
        f"/v1/pipelines/{pipeline['id']}/stages/{stage['id']}",
        stage["id"],
        {"name": "Discovery", "kind": "open", "probability": 25},
    )


DELETIONS: list[tuple[Make, str, str]] = [
    (a_client, "client.deleted", "client"),
    (a_contact, "contact.deleted", "contact"),
    (a_deal, "deal.deleted", "deal"),
    (a_stage, "pipeline_stage.deleted", "pipeline_stage"),
]


class TestDeletions:
    @pytest.mark.parametrize(
        ("make", "action", "entity_type"), DELETIONS, ids=[d[1] for d in DELETIONS]
    )
    async def test_a_deletion_is_recorded_with_what_was_deleted(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        agency: Caller,
        make: Make,
        action: str,
        entity_type: str,
    ) -> None:
        path, entity_id, before = await make(crm, agency)

        response = await crm.delete(path, headers=agency.headers)

        assert response.status_code in (200, 204), response.text
        record = await only(crm_service, action, agency)
        assert (record.actor_type, record.actor_id) == ("user", str(agency.user_id))
        assert (record.entity_type, record.entity_id) == (entity_type, entity_id)
        assert record.before == before
        assert set(record.after.values()) == {None}

    @pytest.mark.parametrize(
        ("make", "action", "entity_type"), DELETIONS, ids=[d[1] for d in DELETIONS]
    )
    async def test_a_deletion_refused_to_a_client_user_records_nothing(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        tenant: Agency,
        make: Make,
        action: str,
        entity_type: str,
    ) -> None:
        path, _, _ = await make(crm, tenant.owner)
        client_user = tenant.caller("client")

        response = await crm.delete(path, headers=client_user.headers)

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(crm_service, action=action) == []

    async def test_another_agencys_deletion_is_404_and_records_nothing(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        path, _, _ = await a_deal(crm, agency)

        response = await crm.delete(path, headers=other_agency.headers)

        assert_problem(response, 404)
        assert await audit_records(crm_service) == []

    async def test_a_client_with_history_is_recorded_as_archived(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        client = await create_client(crm, agency, status="active")
        logged = await crm.post(
            f"/v1/clients/{client['id']}/timeline",
            json={"kind": "note", "title": "Met at a fair"},
            headers=agency.headers,
        )
        assert logged.status_code == 201, logged.text

        response = await crm.delete(f"/v1/clients/{client['id']}", headers=agency.headers)

        assert response.json()["outcome"] == "archived"
        record = await only(crm_service, "client.archived", agency)
        assert record.changes == {"status": {"before": "active", "after": "archived"}}
        assert await audit_records(crm_service, action="client.deleted") == []

    async def test_a_deletion_by_an_api_key_names_the_key(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, tenant: Agency
    ) -> None:
        key_id = uuid.uuid4()
        token = tenant.keys.mint(
            sub=str(key_id), tid=str(tenant.id), role="manager", akid=str(key_id)
        )
        path, _, _ = await a_deal(crm, tenant.owner)

        response = await crm.delete(path, headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 204, response.text
        record = await only(crm_service, "deal.deleted", tenant.owner)
        assert (record.actor_type, record.actor_id) == ("api_key", str(key_id))
        assert_no_secret([record], token)


class TestExport:
    async def test_an_export_is_recorded_with_its_filters(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        await create_client(crm, agency, company_name="Acme Ltd", industry="Retail")

        response = await crm.get(
            "/v1/clients/export",
            params={"industry": "Retail", "sort": "company_name"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        assert "Acme Ltd" in response.text
        record = await only(crm_service, "clients.exported", agency)
        assert (record.actor_type, record.actor_id) == ("user", str(agency.user_id))
        assert record.entity_type == "client"
        assert record.detail == {
            "format": "csv",
            "filters": {"industry": "Retail"},
            "sort": "company_name",
        }

    async def test_an_export_refused_to_a_member_records_nothing(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await crm.get("/v1/clients/export", headers=member.headers)

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(crm_service) == []
