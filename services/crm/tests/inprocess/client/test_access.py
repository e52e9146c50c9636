"""Who may do what with clients (403 for a role without the permission, 401 without a token),
and tenant isolation (another agency gets 404 like a missing id, and lists nothing)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def list_clients(client: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/clients", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


class TestPermissions:
    async def test_a_member_can_list_and_read_clients(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        created = await create_client(crm, agency)
        member = tenant.caller("member")

        listed = await list_clients(crm, member)
        fetched = await crm.get(f"/v1/clients/{created['id']}", headers=member.headers)

        assert [c["id"] for c in listed["items"]] == [created["id"]]
        assert fetched.status_code == 200, fetched.text

    async def test_a_member_may_not_create_a_client(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")

        response = await crm.post(
            "/v1/clients", json={"company_name": "Not allowed"}, headers=member.headers
        )

        body = assert_problem(response, 403, "permission-denied")
        assert "clients.write" in body["detail"]
        assert (await list_clients(crm, agency))["total"] == 0

    async def test_a_member_reads_but_cannot_change_clients(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")
        client = await create_client(crm, agency)

        read = await crm.get(f"/v1/clients/{client['id']}", headers=member.headers)
        patched = await crm.patch(
            f"/v1/clients/{client['id']}", json={"status": "active"}, headers=member.headers
        )
        deleted = await crm.delete(f"/v1/clients/{client['id']}", headers=member.headers)

        assert read.status_code == 200
        assert_problem(patched, 403)
        assert_problem(deleted, 403)

    async def test_a_manager_may_create_a_client(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")

        created = await create_client(crm, manager)

        assert created["created_by"] == str(manager.user_id)
        assert created["owner_id"] == str(manager.user_id)

    async def test_a_client_user_may_not_read_the_agencys_clients(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")

        response = await crm.get("/v1/clients", headers=client_user.headers)

        assert_problem(response, 403, "permission-denied")

    async def test_a_request_without_a_token_is_a_401_problem(self, crm: httpx.AsyncClient) -> None:
        response = await crm.get("/v1/clients")

        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestTenantIsolation:
    async def test_another_agency_gets_404_for_the_id_like_a_missing_one(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        created = await create_client(crm, agency)

        theirs = await crm.get(f"/v1/clients/{created['id']}", headers=other_agency.headers)
        missing = await crm.get(f"/v1/clients/{uuid.uuid4()}", headers=other_agency.headers)

        theirs_body = assert_problem(theirs, 404, "not-found")
        missing_body = assert_problem(missing, 404, "not-found")
        assert theirs_body["detail"] == missing_body["detail"]

    async def test_another_agency_can_neither_change_nor_delete_the_client(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        created = await create_client(crm, agency)
        url = f"/v1/clients/{created['id']}"

        patched = await crm.patch(url, json={"status": "active"}, headers=other_agency.headers)
        deleted = await crm.delete(url, headers=other_agency.headers)

        assert_problem(patched, 404, "not-found")
        assert_problem(deleted, 404, "not-found")
        kept = await crm.get(url, headers=agency.headers)
        assert kept.json() == created

    async def test_another_agency_lists_none_of_the_clients(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        await create_client(crm, agency)
        await create_client(crm, agency, status="active")

        page = await list_clients(crm, other_agency)

        assert page["total"] == 0
        assert page["items"] == []
