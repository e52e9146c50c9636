"""Row-level security on `clients`, as the application role sees the table: nothing without a
tenant, exactly its agency's rows with one, and no writing a row for another tenant."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from agencyos.testing.inprocess import Caller, ServiceInProcess
from agencyos.testing.sql import fetch_value


async def create_client(client: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    response = await client.post(
        "/v1/clients", json={"company_name": f"Client {uuid.uuid4().hex[:8]}"}, headers=who.headers
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def insert_client_row(
    crm_service: ServiceInProcess, *, as_tenant: uuid.UUID, row_tenant: uuid.UUID
) -> None:
    """Insert a clients row for `row_tenant` as the application role working as `as_tenant`."""
    conn = await crm_service.infra.raw(crm_service.database)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(as_tenant))
            await conn.execute(
                "INSERT INTO clients (tenant_id, id, company_name, created_by) "
                "VALUES ($1, $2, 'Inserted by hand', $3)",
                row_tenant,
                uuid.uuid4(),
                uuid.uuid4(),
            )
    finally:
        await conn.close()


class TestRowLevelSecurity:
    async def test_the_application_role_sees_no_clients_without_a_tenant(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        await create_client(crm, agency)
        infra, database = crm_service.infra, crm_service.database

        as_app = await fetch_value(infra, database, "SELECT count(*) FROM clients")
        as_owner_with_tenant = await fetch_value(
            infra, database, "SELECT count(*) FROM clients", tenant_id=agency.agency_id, owner=True
        )

        assert as_owner_with_tenant >= 1  # the rows exist…
        assert as_app == 0  # …and are invisible without a tenant

    async def test_with_the_tenant_set_the_application_role_sees_exactly_that_agencys_clients(
        self,
        crm: httpx.AsyncClient,
        crm_service: ServiceInProcess,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        mine = {(await create_client(crm, agency))["id"] for _ in range(2)}
        await create_client(crm, other_agency)
        conn = await crm_service.infra.raw(crm_service.database)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                rows = await conn.fetch("SELECT tenant_id, id FROM clients")
            outside = await conn.fetchval("SELECT count(*) FROM clients")
        finally:
            await conn.close()

        assert {str(row["id"]) for row in rows} == mine
        assert {row["tenant_id"] for row in rows} == {agency.agency_id}
        assert outside == 0  # the setting was transaction-local

    async def test_the_application_role_cannot_write_a_row_for_another_tenant(
        self, crm_service: ServiceInProcess, agency: Caller, other_agency: Caller
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await insert_client_row(
                crm_service, as_tenant=agency.agency_id, row_tenant=other_agency.agency_id
            )

    async def test_the_application_role_can_write_a_row_for_its_own_tenant(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        await insert_client_row(
            crm_service, as_tenant=agency.agency_id, row_tenant=agency.agency_id
        )

        response = await crm.get("/v1/clients", headers=agency.headers)
        assert response.json()["total"] == 1
