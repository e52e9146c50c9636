"""Creating and reading a client: the fields answered, validation (422 naming the field), the
owner (an active member of the agency, asked of identity's stand-in), what a refused create
leaves in the outbox, and idempotency keys."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess
from agencyos.testing.sql import fetch_value


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def total_clients(client: httpx.AsyncClient, who: Caller) -> int:
    response = await client.get("/v1/clients", headers=who.headers)
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def identity_get_member_calls(code: str) -> float:
    """GetMember calls identity's stand-in answered with `code` (its gRPC server counts them in
    this process's metrics, as identity's does in its own)."""
    total = 0.0
    for family in REGISTRY.collect():
        for sample in family.samples:
            if (
                sample.name == "agencyos_grpc_requests_total"
                and sample.labels.get("service") == "standins"
                and sample.labels.get("grpc_method", "").endswith("/GetMember")
                and sample.labels.get("code") == code
            ):
                total += sample.value
    return total


async def outbox_rows(crm_service: ServiceInProcess, who: Caller) -> int:
    count: int = await fetch_value(
        crm_service.infra,
        crm_service.database,
        "SELECT count(*) FROM outbox",
        tenant_id=who.agency_id,
        owner=True,
    )
    return count


class TestCreateAndGet:
    async def test_a_created_client_is_answered_with_its_fields_and_location(
        self, crm: httpx.AsyncClient, agency: Caller
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
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)

        assert client["status"] == "lead"
        assert client["currency"] is None

    async def test_get_answers_the_client_as_created(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await create_client(crm, agency, industry="Media")

        response = await crm.get(f"/v1/clients/{created['id']}", headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json() == created

    async def test_an_unknown_id_is_a_404_problem(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get(f"/v1/clients/{uuid.uuid4()}", headers=agency.headers)

        assert_problem(response, 404, "not-found")

    async def test_an_id_that_is_not_a_uuid_is_a_422_problem(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get("/v1/clients/not-a-uuid", headers=agency.headers)

        assert_invalid_fields(response, "path.client_id")


class TestOwner:
    async def test_the_owner_defaults_to_the_creator(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await create_client(crm, agency)

        assert created["owner_id"] == str(agency.user_id)

    async def test_another_member_of_the_agency_may_be_the_owner(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")

        created = await create_client(crm, agency, owner_id=str(member.user_id))

        assert created["owner_id"] == str(member.user_id)
        assert created["created_by"] == str(agency.user_id)

    async def test_a_suspended_member_may_not_be_the_owner(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member", status="suspended")

        response = await crm.post(
            "/v1/clients",
            json={"company_name": "Suspended owner", "owner_id": str(member.user_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "owner_id")

    @pytest.mark.parametrize("whose", ["another-agencys-user", "no-such-user"])
    async def test_an_owner_who_is_not_a_member_of_the_agency_is_a_422_naming_owner_id(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller, whose: str
    ) -> None:
        owner_id = other_agency.user_id if whose == "another-agencys-user" else uuid.uuid4()
        asked_before = identity_get_member_calls("NOT_FOUND")

        response = await crm.post(
            "/v1/clients",
            json={"company_name": "Owned elsewhere", "owner_id": str(owner_id)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "owner_id")
        assert await total_clients(crm, agency) == 0
        # crm asked identity over gRPC (as the caller), and identity did not find the member.
        assert identity_get_member_calls("NOT_FOUND") == asked_before + 1


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
        self, crm: httpx.AsyncClient, agency: Caller, body: dict[str, Any], field: str
    ) -> None:
        response = await crm.post("/v1/clients", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_a_body_that_is_not_json_is_a_422_problem(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.post(
            "/v1/clients",
            content=b"{not json",
            headers={**agency.headers, "content-type": "application/json"},
        )

        assert_problem(response, 422, "invalid-input")


class TestOutbox:
    async def test_a_created_client_writes_one_event_to_the_outbox(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        await create_client(crm, agency)

        assert await outbox_rows(crm_service, agency) == 1

    async def test_a_refused_client_writes_no_event(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        refused = await crm.post(
            "/v1/clients",
            json={"company_name": "Nobody's", "owner_id": str(uuid.uuid4())},
            headers=agency.headers,
        )
        assert refused.status_code == 422

        assert await outbox_rows(crm_service, agency) == 0


class TestIdempotencyKey:
    async def test_a_retry_with_the_same_key_replays_the_201_without_a_second_client(
        self, crm: httpx.AsyncClient, crm_service: ServiceInProcess, agency: Caller
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"create-{uuid.uuid4()}"}
        body = {"company_name": "Only Once Ltd"}

        first = await crm.post("/v1/clients", json=body, headers=headers)
        second = await crm.post("/v1/clients", json=body, headers=headers)

        assert first.status_code == second.status_code == 201, second.text
        assert second.json() == first.json()
        assert second.headers["location"] == first.headers["location"]
        assert second.headers.get("idempotent-replayed") == "true"
        assert "idempotent-replayed" not in first.headers
        assert await total_clients(crm, agency) == 1
        assert await outbox_rows(crm_service, agency) == 1

    async def test_two_simultaneous_requests_with_one_key_create_one_client(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"race-{uuid.uuid4()}"}
        body = {"company_name": "Raced Ltd"}

        answers = await asyncio.gather(
            *(crm.post("/v1/clients", json=body, headers=headers) for _ in range(3))
        )

        statuses = sorted(r.status_code for r in answers)
        assert statuses[0] == 201, [r.text for r in answers]
        assert set(statuses) <= {201, 409}, [r.text for r in answers]
        assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
        assert await total_clients(crm, agency) == 1

    async def test_the_same_key_with_a_different_body_is_refused(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        headers = {**agency.headers, "Idempotency-Key": f"create-{uuid.uuid4()}"}
        await crm.post("/v1/clients", json={"company_name": "First"}, headers=headers)

        other = await crm.post("/v1/clients", json={"company_name": "Second"}, headers=headers)

        assert_problem(other, 422, "invalid-input")
        assert await total_clients(crm, agency) == 1

    async def test_different_keys_create_different_clients(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = {"company_name": "Twice On Purpose"}
        for key in ("one", "two"):
            response = await crm.post(
                "/v1/clients",
                json=body,
                headers={**agency.headers, "Idempotency-Key": f"{key}-{uuid.uuid4()}"},
            )
            assert response.status_code == 201, response.text

        assert await total_clients(crm, agency) == 2

    async def test_another_agency_using_the_same_key_gets_its_own_client(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        key = f"shared-{uuid.uuid4()}"
        body = {"company_name": "Same Key Inc"}

        mine = await crm.post(
            "/v1/clients", json=body, headers={**agency.headers, "Idempotency-Key": key}
        )
        theirs = await crm.post(
            "/v1/clients", json=body, headers={**other_agency.headers, "Idempotency-Key": key}
        )

        assert mine.status_code == theirs.status_code == 201
        assert mine.json()["id"] != theirs.json()["id"]
        assert "idempotent-replayed" not in theirs.headers
