"""CRM clients against the running crm service (its own process, database and topic), called
directly on its HTTP port and through the gateway where the gateway's part matters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value


@pytest.fixture
async def crm(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("crm"), timeout=30.0) as client:
        yield client


@pytest.fixture
async def identity(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=30.0) as client:
        yield client


async def identity_get_member_calls(identity: httpx.AsyncClient, code: str) -> float:
    """identity's count of GetMember gRPC calls it answered with `code` (from /metrics)."""
    response = await identity.get("/metrics")
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if (
                sample.name == "agencyos_grpc_requests_total"
                and sample.labels.get("grpc_method", "").endswith("/GetMember")
                and sample.labels.get("code") == code
            ):
                total += sample.value
    return total


async def create_client(
    client: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def list_clients(
    client: httpx.AsyncClient, who: AgencySession, **params: Any
) -> dict[str, Any]:
    response = await client.get("/v1/clients", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


class TestCreateAndGet:
    async def test_a_created_client_is_answered_with_its_fields_and_location(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await crm.post(
            "/v1/clients",
            json={
                "company_name": "  Acme Corp  ",
                "status": "active",
                "industry": "Retail",
                "website": "https://acme.example/",
                "notes": "Met at the expo",
                "currency": "EUR",
            },
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        client = response.json()
        assert response.headers["location"] == f"/v1/clients/{client['id']}"
        assert client["company_name"] == "Acme Corp"
        assert client["status"] == "active"
        assert client["industry"] == "Retail"
        assert client["website"] == "https://acme.example/"
        assert client["notes"] == "Met at the expo"
        assert client["currency"] == "EUR"
        assert client["owner_id"] == str(agency.user_id)
        assert client["created_by"] == str(agency.user_id)
        assert client["created_at"].endswith(("Z", "+00:00"))

    async def test_a_new_client_is_a_lead_unless_told_otherwise(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(crm, agency)

        assert client["status"] == "lead"
        assert client["currency"] is None

    async def test_get_answers_the_client_as_created(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(crm, agency, industry="Media")

        response = await crm.get(f"/v1/clients/{created['id']}", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json() == created

    async def test_an_unknown_id_is_a_404_problem(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await crm.get(f"/v1/clients/{uuid.uuid4()}", headers=agency.headers)

        assert_problem(response, 404, "not-found")

    async def test_an_id_that_is_not_a_uuid_is_a_422_problem(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await crm.get("/v1/clients/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.client_id")

    async def test_the_gateway_serves_the_same_client(
        self, crm: httpx.AsyncClient, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(gateway, agency)

        direct = await crm.get(f"/v1/clients/{created['id']}", headers=agency.headers)

        assert direct.status_code == 200, direct.text
        assert direct.json() == created


class TestListPagination:
    async def test_pages_split_the_clients_with_the_total_on_every_page(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = [await create_client(crm, agency) for _ in range(5)]

        pages = [await list_clients(crm, agency, page=p, per_page=2) for p in (1, 2, 3)]

        assert [len(p["items"]) for p in pages] == [2, 2, 1]
        assert [(p["total"], p["page"], p["per_page"]) for p in pages] == [
            (5, 1, 2),
            (5, 2, 2),
            (5, 3, 2),
        ]
        seen = [item["id"] for p in pages for item in p["items"]]
        assert len(seen) == len(set(seen))
        assert set(seen) == {c["id"] for c in created}

    async def test_the_newest_client_comes_first(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await create_client(crm, agency)
        second = await create_client(crm, agency)

        page = await list_clients(crm, agency)

        assert [c["id"] for c in page["items"]] == [second["id"], first["id"]]

    async def test_a_page_past_the_end_is_empty_but_keeps_the_total(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await create_client(crm, agency)

        page = await list_clients(crm, agency, page=3, per_page=10)

        assert page == {"items": [], "total": 1, "page": 3, "per_page": 10}

    async def test_the_default_page_size_is_50(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        page = await list_clients(crm, agency)

        assert (page["page"], page["per_page"]) == (1, 50)

    async def test_200_per_page_is_allowed(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        page = await list_clients(crm, agency, per_page=200)

        assert page["per_page"] == 200

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({"per_page": 201}, "query.per_page", id="per-page-above-200"),
            pytest.param({"per_page": 0}, "query.per_page", id="per-page-zero"),
            pytest.param({"page": 0}, "query.page", id="page-zero"),
            pytest.param({"page": "two"}, "query.page", id="page-not-a-number"),
        ],
    )
    async def test_out_of_range_paging_is_a_422_problem_naming_the_parameter(
        self, crm: httpx.AsyncClient, agency: AgencySession, params: dict[str, Any], field: str
    ) -> None:
        response = await crm.get("/v1/clients", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_the_gateway_passes_the_paging_limit_through(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients", params={"per_page": 201}, headers=agency.headers
        )

        assert_invalid_fields(response, "query.per_page")


class TestStatusFilter:
    async def test_the_status_filter_lists_only_clients_in_that_status(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        active = await create_client(crm, agency, status="active")
        await create_client(crm, agency, status="lead")
        archived = await create_client(crm, agency, status="archived")

        only_active = await list_clients(crm, agency, status="active")
        only_archived = await list_clients(crm, agency, status="archived")
        only_inactive = await list_clients(crm, agency, status="inactive")

        assert [c["id"] for c in only_active["items"]] == [active["id"]]
        assert only_active["total"] == 1
        assert [c["id"] for c in only_archived["items"]] == [archived["id"]]
        assert only_inactive["total"] == 0

    async def test_an_unknown_status_is_a_422_problem_naming_it(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await crm.get("/v1/clients", params={"status": "vip"}, headers=agency.headers)

        assert_invalid_fields(response, "query.status")


class TestPermissions:
    async def test_a_member_can_list_and_read_clients(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(gateway, agency)
        member = await add_member(platform, gateway, agency, "member")

        listed = await list_clients(gateway, member)
        fetched = await gateway.get(f"/v1/clients/{created['id']}", headers=member.headers)

        assert [c["id"] for c in listed["items"]] == [created["id"]]
        assert fetched.status_code == 200, fetched.text

    @pytest.mark.parametrize("via", ["crm", "gateway"])
    async def test_a_member_may_not_create_a_client(
        self,
        platform: Platform,
        crm: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        via: str,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        client = crm if via == "crm" else gateway

        response = await client.post(
            "/v1/clients", json={"company_name": "Not allowed"}, headers=member.headers
        )

        body = assert_problem(response, 403, "permission-denied")
        assert "clients.write" in body["detail"]
        assert (await list_clients(crm, agency))["total"] == 0

    async def test_a_manager_may_create_a_client(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        created = await create_client(gateway, manager)

        assert created["created_by"] == str(manager.user_id)
        assert created["owner_id"] == str(manager.user_id)

    async def test_a_client_user_may_not_read_the_agencys_clients(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")

        response = await gateway.get("/v1/clients", headers=client_user.headers)

        assert_problem(response, 403, "permission-denied")

    async def test_a_request_without_a_token_is_a_401_problem(self, crm: httpx.AsyncClient) -> None:
        response = await crm.get("/v1/clients")

        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"].startswith("Bearer")


class TestTenantIsolation:
    @pytest.mark.parametrize("via", ["crm", "gateway"])
    async def test_another_agency_gets_404_for_the_id_like_a_missing_one(
        self,
        crm: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        via: str,
    ) -> None:
        created = await create_client(crm, agency)
        client = crm if via == "crm" else gateway

        theirs = await client.get(f"/v1/clients/{created['id']}", headers=other_agency.headers)
        missing = await client.get(f"/v1/clients/{uuid.uuid4()}", headers=other_agency.headers)

        theirs_body = assert_problem(theirs, 404, "not-found")
        missing_body = assert_problem(missing, 404, "not-found")
        assert theirs_body["detail"] == missing_body["detail"]

    @pytest.mark.parametrize("via", ["crm", "gateway"])
    async def test_another_agency_lists_none_of_the_clients(
        self,
        crm: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        via: str,
    ) -> None:
        await create_client(crm, agency)
        await create_client(crm, agency, status="active")

        page = await list_clients(crm if via == "crm" else gateway, other_agency)

        assert page["total"] == 0
        assert page["items"] == []


class TestOwner:
    async def test_the_owner_defaults_to_the_creator(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(crm, agency)

        assert created["owner_id"] == str(agency.user_id)

    async def test_another_member_of_the_agency_may_be_the_owner(
        self,
        platform: Platform,
        crm: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        created = await create_client(crm, agency, owner_id=str(member.user_id))

        assert created["owner_id"] == str(member.user_id)
        assert created["created_by"] == str(agency.user_id)

    async def test_a_suspended_member_may_not_be_the_owner(
        self,
        platform: Platform,
        crm: httpx.AsyncClient,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        conn = await platform.infra.raw(platform.database("identity"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute(
                    "UPDATE memberships SET status = 'suspended' WHERE user_id = $1",
                    member.user_id,
                )
        finally:
            await conn.close()

        response = await crm.post(
            "/v1/clients",
            json={"company_name": "Suspended owner", "owner_id": str(member.user_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "owner_id")

    @pytest.mark.parametrize("whose", ["another-agencys-user", "no-such-user"])
    async def test_an_owner_who_is_not_a_member_of_the_agency_is_a_422_naming_owner_id(
        self,
        crm: httpx.AsyncClient,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        whose: str,
    ) -> None:
        owner_id = other_agency.user_id if whose == "another-agencys-user" else uuid.uuid4()
        asked_before = await identity_get_member_calls(identity, "NOT_FOUND")

        response = await crm.post(
            "/v1/clients",
            json={"company_name": "Owned elsewhere", "owner_id": str(owner_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "owner_id")
        assert (await list_clients(crm, agency))["total"] == 0
        # crm asked identity over gRPC (as the caller), and identity did not find the member.
        assert await identity_get_member_calls(identity, "NOT_FOUND") == asked_before + 1


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({"company_name": ""}, "company_name", id="empty-company-name"),
            pytest.param({"company_name": "   "}, "company_name", id="blank-company-name"),
            pytest.param({}, "company_name", id="missing-company-name"),
            pytest.param({"company_name": "x" * 201}, "company_name", id="long-company-name"),
            pytest.param({"company_name": "A", "currency": "usd"}, "currency", id="lower-currency"),
            pytest.param({"company_name": "A", "currency": "EURO"}, "currency", id="long-currency"),
            pytest.param(
                {"company_name": "A", "currency": "XXX"}, "currency", id="not-an-iso-currency"
            ),
            pytest.param(
                {"company_name": "A", "website": "not a url"}, "website", id="bad-website"
            ),
            pytest.param({"company_name": "A", "status": "vip"}, "status", id="unknown-status"),
            pytest.param({"company_name": "A", "owner_id": "bob"}, "owner_id", id="bad-owner-id"),
            pytest.param({"company_name": "A", "tenant_id": "x"}, "tenant_id", id="unknown-field"),
        ],
    )
    async def test_bad_input_is_a_422_problem_naming_the_field(
        self, crm: httpx.AsyncClient, agency: AgencySession, body: dict[str, Any], field: str
    ) -> None:
        response = await crm.post("/v1/clients", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_a_body_that_is_not_json_is_a_422_problem(
        self, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await crm.post(
            "/v1/clients",
            content=b"{not json",
            headers={**agency.headers, "content-type": "application/json"},
        )

        assert_problem(response, 422, "invalid-input")

    async def test_bad_input_through_the_gateway_is_the_same_problem(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/clients", json={"company_name": ""}, headers=agency.headers
        )

        assert_invalid_fields(response, "company_name")


class TestClientCreatedEvent:
    async def test_creating_a_client_publishes_one_cloudevent_keyed_by_the_tenant(
        self, platform: Platform, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(crm, agency, status="active")
        # Same tenant → same partition → its event comes after ours: once it is on the topic,
        # any duplicate of ours would be too.
        later = await create_client(crm, agency)
        topic = f"{platform.topic_prefix}crm.events"
        tenant = str(agency.agency_id)

        def later_arrived(records: list[Any]) -> bool:
            return any(
                e["data"].get("client_id") == later["id"]
                for e in events_where(records, tenantid=tenant)
            )

        records = await read_topic(platform.infra.kafka_bootstrap, topic, later_arrived)

        ours = [
            r
            for r in records
            if (e := events_where([r], tenantid=tenant))
            and e[0]["data"].get("client_id") == created["id"]
        ]
        assert len(ours) == 1
        assert ours[0].key == tenant.encode()
        event = events_where(ours)[0]
        uuid.UUID(event["id"])
        assert event["specversion"] == "1.0"
        assert event["type"] == "crm.client.created"
        assert event["source"] == "/agencyos/crm"
        assert event["tenantid"] == tenant
        assert event["subject"] == f"clients/{created['id']}"
        assert event["dataschema"] == "https://agencyos.dev/schemas/events/crm.client.created/v1"
        assert event["time"]
        assert event["data"] == {
            "client_id": created["id"],
            "company_name": created["company_name"],
            "status": "active",
            "owner_id": str(agency.user_id),
            "created_by": str(agency.user_id),
        }

    async def test_a_refused_client_writes_no_event(
        self, platform: Platform, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        refused = await crm.post(
            "/v1/clients",
            json={"company_name": "Nobody's", "owner_id": str(uuid.uuid4())},
            headers=agency.headers,
        )
        assert refused.status_code == 422

        pending = await fetch_value(
            platform.infra,
            platform.database("crm"),
            "SELECT count(*) FROM outbox",
            tenant_id=agency.agency_id,
            owner=True,
        )

        assert pending == 0


class TestIdempotencyKey:
    async def test_a_retry_with_the_same_key_replays_the_201_without_a_second_client(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"create-{uuid.uuid4()}"}
        body = {"company_name": "Only Once Ltd"}

        first = await gateway.post("/v1/clients", json=body, headers=headers)
        second = await gateway.post("/v1/clients", json=body, headers=headers)

        assert first.status_code == second.status_code == 201, second.text
        assert second.json() == first.json()
        assert second.headers["location"] == first.headers["location"]
        assert second.headers.get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first.headers
        assert (await list_clients(gateway, agency))["total"] == 1
        events = await fetch_value(
            platform.infra,
            platform.database("crm"),
            "SELECT count(*) FROM outbox",
            tenant_id=agency.agency_id,
            owner=True,
        )
        assert events == 1

    async def test_two_simultaneous_requests_with_one_key_create_one_client(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
        body = {"company_name": "Raced Ltd"}

        answers = await asyncio.gather(
            *(gateway.post("/v1/clients", json=body, headers=headers) for _ in range(3))
        )

        statuses = sorted(r.status_code for r in answers)
        assert statuses[0] == 201, [r.text for r in answers]
        assert set(statuses) <= {201, 409}, [r.text for r in answers]
        assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
        assert (await list_clients(gateway, agency))["total"] == 1

    async def test_the_same_key_with_a_different_body_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"create-{uuid.uuid4()}"}
        await gateway.post("/v1/clients", json={"company_name": "First"}, headers=headers)

        other = await gateway.post("/v1/clients", json={"company_name": "Second"}, headers=headers)

        assert_problem(other, 422, "invalid-input")
        assert (await list_clients(gateway, agency))["total"] == 1

    async def test_different_keys_create_different_clients(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = {"company_name": "Twice On Purpose"}
        for key in ("one", "two"):
            response = await gateway.post(
                "/v1/clients",
                json=body,
                headers={**agency.headers, "Idempotency-Key": f"{key}-{uuid.uuid4()}"},
            )
            assert response.status_code == 201, response.text

        assert (await list_clients(gateway, agency))["total"] == 2

    async def test_another_agency_using_the_same_key_gets_its_own_client(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        key = f"shared-{uuid.uuid4()}"
        body = {"company_name": "Same Key Inc"}

        mine = await gateway.post(
            "/v1/clients", json=body, headers={**agency.headers, "Idempotency-Key": key}
        )
        theirs = await gateway.post(
            "/v1/clients", json=body, headers={**other_agency.headers, "Idempotency-Key": key}
        )

        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert "idempotent-replayed" not in theirs.headers


class TestRowLevelSecurity:
    async def test_the_application_role_sees_no_clients_without_a_tenant(
        self, platform: Platform, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await create_client(crm, agency)
        database = platform.database("crm")

        as_app = await fetch_value(platform.infra, database, "SELECT count(*) FROM clients")
        as_owner_with_tenant = await fetch_value(
            platform.infra,
            database,
            "SELECT count(*) FROM clients",
            tenant_id=agency.agency_id,
            owner=True,
        )

        assert as_owner_with_tenant >= 1  # the rows exist…
        assert as_app == 0  # …and are invisible without a tenant

    async def test_with_the_tenant_set_the_application_role_sees_exactly_that_agencys_clients(
        self,
        platform: Platform,
        crm: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        mine = {(await create_client(crm, agency))["id"] for _ in range(2)}
        await create_client(crm, other_agency)
        conn = await platform.infra.raw(platform.database("crm"))
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
        self, platform: Platform, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await insert_client_row(
                platform, as_tenant=agency.agency_id, row_tenant=other_agency.agency_id
            )

    async def test_the_application_role_can_write_a_row_for_its_own_tenant(
        self, platform: Platform, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await insert_client_row(platform, as_tenant=agency.agency_id, row_tenant=agency.agency_id)

        assert (await list_clients(crm, agency))["total"] == 1


async def insert_client_row(
    platform: Platform, *, as_tenant: uuid.UUID, row_tenant: uuid.UUID
) -> None:
    """Insert a clients row for `row_tenant` as the application role working as `as_tenant`."""
    conn = await platform.infra.raw(platform.database("crm"))
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
