"""Client search at scale, the 100k-clients-per-agency case: the search answers from the
trigram index (checked in the plan of the very query the service builds). Search and filters
themselves are tested in the in-process tier."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy.dialects import postgresql

from agencyos.crm.client.repository import client_repository
from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.platform import Platform

BULK_CLIENTS = 100_000


async def create_client(gateway: httpx.AsyncClient, who: AgencySession, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add_contact(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: str, **fields: Any
) -> Any:
    response = await gateway.post(
        f"/v1/clients/{client_id}/contacts", json=fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def search(gateway: httpx.AsyncClient, who: AgencySession, query: str) -> list[str]:
    response = await gateway.get(f"/v1/clients?{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return [c["company_name"] for c in response.json()["items"]]


class TestSearchAtScale:
    async def test_with_100k_clients_the_search_uses_its_index_and_finds_the_needle(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)
        needle = f"needle{uuid.uuid4().hex[:6]}"
        conn = await platform.infra.raw(platform.database("crm"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(owner.agency_id)
                )
                # A wedged arrangement fails this test, not the tests after it.
                await conn.execute("SET LOCAL statement_timeout = '150s'")
                # Arrangement, set-based: the 100k clients in one statement with the per-row
                # search trigger off for it, then their search rows in one statement (what the
                # trigger would write; the trigger path is tested above and by the needle
                # created through the API below).
                await conn.execute("ALTER TABLE clients DISABLE TRIGGER clients_search_text")
                await conn.execute(
                    "INSERT INTO clients (tenant_id, id, company_name, created_by) "
                    "SELECT $1, gen_random_uuid(), 'Bulk Company ' || n || ' ' || md5(n::text), $2 "
                    "FROM generate_series(1, $3) AS n",
                    owner.agency_id,
                    owner.user_id,
                    BULK_CLIENTS,
                )
                await conn.execute("ALTER TABLE clients ENABLE TRIGGER clients_search_text")
                # Statistics first. Inside the suite, autovacuum has analysed `clients` while
                # it held a few dozen clients of as many agencies, so tenant_id looked unique;
                # the foreign-key check of every search row then walked this agency's 100k
                # clients through an index on tenant_id alone (quadratic: over five minutes).
                await conn.execute("ANALYZE clients")
                await conn.execute(
                    "INSERT INTO client_search (tenant_id, client_id, search_text) "
                    "SELECT tenant_id, id, lower(company_name) FROM clients "
                    "WHERE tenant_id = $1 AND company_name LIKE 'Bulk Company %'",
                    owner.agency_id,
                )
            await conn.execute("ANALYZE clients")
            # VACUUM, not only ANALYZE: the bulk insert left rows in the trigram index's GIN
            # pending list, which the planner prices into every index scan; until autovacuum
            # flushes it (as it does in production), the search looked cheaper as a Seq Scan
            # on a fresh cluster.
            await conn.execute("VACUUM (ANALYZE) client_search")
            stmt = client_repository.filtered_query(owner.agency_id, q=needle).limit(50)
            sql = str(
                stmt.compile(
                    dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
                    compile_kwargs={"literal_binds": True},
                )
            ).replace("%%", "%")
            # The search function's own query, as PostgreSQL stores it, with this pattern.
            body = await conn.fetchval(
                "SELECT prosrc FROM pg_proc WHERE proname = 'crm_search_clients'"
            )
            inner = body.replace("p_pattern", f"'%{needle}%'")
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(owner.agency_id)
                )
                plan = json.dumps(json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {sql}")))
                inner_plan = json.dumps(
                    json.loads(await conn.fetchval(f"EXPLAIN (FORMAT JSON) {inner}"))
                )
        finally:
            await conn.close()
        found = await create_client(gateway, owner, company_name="Haystack Partners")
        await add_contact(gateway, owner, found["id"], name="N", email=f"{needle}@example.com")

        # The service's query asks the search function, then reads clients by primary key...
        assert "crm_search_clients" in plan, plan
        assert '"Relation Name": "clients"' in plan
        assert "Seq Scan" not in plan, plan
        # ...and the function answers from the trigram index, not by scanning.
        assert "ix_client_search_text" in inner_plan, inner_plan
        assert "Seq Scan" not in inner_plan, inner_plan
        assert await search(gateway, owner, f"q={needle.upper()}") == ["Haystack Partners"]
        total = await gateway.get("/v1/clients?per_page=1", headers=owner.headers)
        assert total.json()["total"] == BULK_CLIENTS + 1
