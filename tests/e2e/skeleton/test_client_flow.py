"""The walking skeleton, driven only through the gateway: signup → client → event →
notification, with tenancy enforced end to end."""

from __future__ import annotations

import httpx
import pytest

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.infra import wait_for

pytestmark = pytest.mark.e2e


async def notifications_of(gateway: httpx.AsyncClient, who: AgencySession) -> list[dict]:
    response = await gateway.get("/v1/notifications", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


class TestSignupToNotification:
    async def test_a_new_agency_creates_a_client_and_its_owner_is_notified(
        self, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway, name="Northwind Studio")

        me = await gateway.get("/v1/me", headers=owner.headers)
        assert me.status_code == 200
        assert me.json()["agency"]["id"] == str(owner.agency_id)
        assert me.json()["role"] == "owner"

        created = await gateway.post(
            "/v1/clients", json={"company_name": "Acme Corp"}, headers=owner.headers
        )
        assert created.status_code == 201, created.text
        client = created.json()
        assert client["owner_id"] == str(owner.user_id)
        assert created.headers["location"] == f"/v1/clients/{client['id']}"

        fetched = await gateway.get(f"/v1/clients/{client['id']}", headers=owner.headers)
        assert fetched.status_code == 200
        assert fetched.json()["company_name"] == "Acme Corp"

        listed = await gateway.get("/v1/clients", headers=owner.headers)
        assert listed.json()["total"] == 1
        assert [c["id"] for c in listed.json()["items"]] == [client["id"]]

        items = await wait_for(lambda: notifications_of(gateway, owner), timeout=90)
        assert isinstance(items, list)
        assert items[0]["kind"] == "client.created"
        assert items[0]["data"] == {"client_id": client["id"]}


class TestTenantIsolation:
    async def test_another_agency_gets_404_for_a_client_id_it_does_not_own(
        self, gateway: httpx.AsyncClient
    ) -> None:
        agency_a = await signup_agency(gateway)
        agency_b = await signup_agency(gateway)
        created = await gateway.post(
            "/v1/clients", json={"company_name": "A's client"}, headers=agency_a.headers
        )
        client_id = created.json()["id"]

        as_b = await gateway.get(f"/v1/clients/{client_id}", headers=agency_b.headers)
        assert as_b.status_code == 404
        assert as_b.headers["content-type"] == "application/problem+json"
        missing = await gateway.get(
            "/v1/clients/00000000-0000-0000-0000-000000000000", headers=agency_b.headers
        )
        assert missing.status_code == 404
        assert as_b.json()["detail"] == missing.json()["detail"]

        b_list = await gateway.get("/v1/clients", headers=agency_b.headers)
        assert b_list.json()["total"] == 0
        a_notes = await wait_for(lambda: notifications_of(gateway, agency_a), timeout=90)
        assert a_notes
        assert await notifications_of(gateway, agency_b) == []
