"""API keys used as Bearer credentials, the gateway resolving them (through identity's gRPC
ResolveApiKey) on identity and on other services: what a key may do, revoked, expired and
forged keys refused; plus ResolveApiKey over a real gRPC channel."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import (
    assert_problem,
    unverified_jwt,
    without_trace,
)
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows

# The gateway reuses a resolved key for api_key_cache_seconds (5 s by default).
REVOCATION_DEADLINE_SECONDS = 15.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def well_formed_key(agency_id: uuid.UUID) -> str:
    return f"ak_{secrets.token_urlsafe(32)}.{agency_id.hex}"


async def create_key(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    *,
    name: str = "CI export",
    role: str = "member",
    expires_in_days: int | None = None,
) -> httpx.Response:
    return await gateway.post(
        "/v1/api-keys",
        json={"name": name, "role": role, "expires_in_days": expires_in_days},
        headers=who.headers,
    )


async def new_key(gateway: httpx.AsyncClient, who: AgencySession, **fields: Any) -> dict[str, Any]:
    response = await create_key(gateway, who, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_keys(
    gateway: httpx.AsyncClient, who: AgencySession, *, include_revoked: bool = False
) -> dict[str, Any]:
    params = {"include_revoked": "true"} if include_revoked else {}
    response = await gateway.get("/v1/api-keys", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    return page


async def listed_ids(
    gateway: httpx.AsyncClient, who: AgencySession, *, include_revoked: bool = False
) -> list[str]:
    page = await list_keys(gateway, who, include_revoked=include_revoked)
    return [item["id"] for item in page["items"]]


async def revoke(gateway: httpx.AsyncClient, who: AgencySession, key_id: str) -> httpx.Response:
    return await gateway.delete(f"/v1/api-keys/{key_id}", headers=who.headers)


async def sql(platform: Platform, tenant_id: uuid.UUID, query: str, *args: Any) -> list[Any]:
    """Run `query` as the owner role under `tenant_id` (how a test reaches past the API)."""
    return await fetch_rows(
        platform.infra, platform.database("identity"), query, *args, tenant_id=tenant_id, owner=True
    )


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")
    return body


async def refused_within(
    gateway: httpx.AsyncClient, key: str, seconds: float = REVOCATION_DEADLINE_SECONDS
) -> httpx.Response:
    """Poll with `key` until it is refused (or `seconds` pass); the last answer."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await gateway.get("/v1/agency", headers=bearer(key))
        if response.status_code != 200 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.25)


@pytest.fixture
async def identity_stub(
    platform: Platform,
) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("identity")) as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)


class TestCreatingAKey:
    async def test_an_api_key_cannot_create_api_keys(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin_key = (await new_key(gateway, agency, role="admin"))["key"]

        response = await gateway.post(
            "/v1/api-keys", json={"name": "Offspring", "role": "member"}, headers=bearer(admin_key)
        )

        assert_problem(response, 403, "permission-denied")
        assert len(await listed_ids(gateway, agency)) == 1


class TestUsingAKey:
    async def test_me_with_a_key_describes_the_key(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(
            gateway, agency, name="BI export", role="manager", expires_in_days=90
        )

        response = await gateway.get("/v1/me", headers=bearer(created["key"]))

        assert response.status_code == 200, response.text
        me = response.json()
        assert set(me) == {"kind", "api_key", "agency", "role", "permissions"}
        assert me["kind"] == "api_key"
        key = me["api_key"]
        assert (key["id"], key["name"], key["role"]) == (created["id"], "BI export", "manager")
        assert key["expires_at"] == created["expires_at"] is not None
        assert key["prefix"] == created["prefix"]
        assert "key" not in key
        assert "key_hash" not in key
        assert me["agency"]["id"] == str(agency.agency_id)
        assert me["role"] == "manager"
        assert "clients.write" in me["permissions"]
        assert "roles.write" not in me["permissions"]
        assert me["permissions"] == sorted(me["permissions"])

    async def test_the_key_answers_for_its_own_agency(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency))["key"]

        response = await gateway.get("/v1/agency", headers=bearer(key))

        assert response.status_code == 200, response.text
        assert response.json()["id"] == str(agency.agency_id)

    async def test_the_key_works_on_another_service(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await gateway.post(
            "/v1/clients", json={"company_name": "Acme Corp"}, headers=agency.headers
        )
        assert created.status_code == 201, created.text
        key = (await new_key(gateway, agency))["key"]

        response = await gateway.get("/v1/clients", headers=bearer(key))

        assert response.status_code == 200, response.text
        assert [c["id"] for c in response.json()["items"]] == [created.json()["id"]]

    async def test_a_manager_key_may_write_what_managers_may(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency, role="manager"))["key"]

        # A key is no person: a client it makes has no owner unless one is named.
        unowned = await gateway.post(
            "/v1/clients", json={"company_name": "Made by a key"}, headers=bearer(key)
        )
        owned = await gateway.post(
            "/v1/clients",
            json={"company_name": "Owned", "owner_id": str(agency.user_id)},
            headers=bearer(key),
        )

        assert unowned.status_code == 201, unowned.text
        assert unowned.json()["owner_id"] is None
        assert owned.status_code == 201, owned.text
        assert owned.json()["owner_id"] == str(agency.user_id)

    async def test_a_member_key_gets_403_on_an_admin_route(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency, role="member"))["key"]

        response = await gateway.patch("/v1/agency", json={"name": "Hijacked"}, headers=bearer(key))

        assert_problem(response, 403, "permission-denied")

    async def test_an_admin_key_may_change_the_agency_settings(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency, role="admin"))["key"]

        response = await gateway.patch(
            "/v1/agency", json={"invoice_prefix": "KEY-"}, headers=bearer(key)
        )

        assert response.status_code == 200, response.text
        assert response.json()["invoice_prefix"] == "KEY-"

    async def test_last_used_at_is_set_once_the_key_is_used(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(gateway, agency)
        before = datetime.now(UTC) - timedelta(minutes=1)

        assert (await gateway.get("/v1/agency", headers=bearer(created["key"]))).status_code == 200
        (item,) = (await list_keys(gateway, agency))["items"]

        assert item["id"] == created["id"]
        assert item["last_used_at"] is not None
        assert datetime.fromisoformat(item["last_used_at"]) >= before

    async def test_a_key_cannot_read_another_agencys_data(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        theirs = await gateway.post(
            "/v1/clients", json={"company_name": "Their client"}, headers=other_agency.headers
        )
        assert theirs.status_code == 201, theirs.text
        key = (await new_key(gateway, agency, role="admin"))["key"]

        one = await gateway.get(f"/v1/clients/{theirs.json()['id']}", headers=bearer(key))
        every = await gateway.get("/v1/clients", headers=bearer(key))

        assert_problem(one, 404, "not-found")
        assert every.status_code == 200, every.text
        assert every.json()["items"] == []

    async def test_a_service_called_directly_does_not_take_a_key(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency))["key"]

        async with httpx.AsyncClient(base_url=platform.url("identity"), timeout=30.0) as identity:
            response = await identity.get("/v1/agency", headers=bearer(key))

        assert_refused(response)


class TestRefusedKeys:
    async def test_a_revoked_key_is_refused_within_seconds(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(gateway, agency)
        assert (await gateway.get("/v1/agency", headers=bearer(created["key"]))).status_code == 200

        assert (await revoke(gateway, agency, created["id"])).status_code == 204
        response = await refused_within(gateway, created["key"])

        assert_refused(response)

    async def test_an_expired_key_is_refused(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(gateway, agency, expires_in_days=30)
        await sql(
            platform,
            agency.agency_id,
            "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1 "
            "RETURNING id",
            uuid.UUID(created["id"]),
        )

        response = await gateway.get("/v1/agency", headers=bearer(created["key"]))

        assert_refused(response)

    async def test_a_key_with_another_agencys_id_swapped_in_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency))["key"]
        swapped = f"{key.rpartition('.')[0]}.{other_agency.agency_id.hex}"

        response = await gateway.get("/v1/agency", headers=bearer(swapped))

        assert_refused(response)

    async def test_an_unknown_key_is_refused(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients", headers=bearer(well_formed_key(agency.agency_id))
        )

        assert_refused(response)

    async def test_every_refusal_reads_the_same(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (await new_key(gateway, agency))["key"]
        candidates = [
            well_formed_key(agency.agency_id),
            f"{key.rpartition('.')[0]}.{uuid.uuid4().hex}",
            key[:-1],
            "ak_not-even-close",
        ]

        bodies = [
            without_trace(assert_refused(await gateway.get("/v1/agency", headers=bearer(c))))
            for c in candidates
        ]

        assert all(body == bodies[0] for body in bodies), bodies


class TestRevokingKeys:
    async def test_another_agencys_key_is_404_and_keeps_working(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await new_key(gateway, agency)

        response = await revoke(gateway, other_agency, created["id"])

        assert_problem(response, 404, "not-found")
        assert await listed_ids(gateway, agency) == [created["id"]]
        assert (await gateway.get("/v1/agency", headers=bearer(created["key"]))).status_code == 200


class TestResolveApiKeyOverGrpc:
    async def test_a_key_resolves_to_a_short_lived_token_acting_as_the_key(
        self,
        identity_stub: identity_pb2_grpc.IdentityServiceStub,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        created = await new_key(gateway, agency, role="manager")

        resolved = await identity_stub.ResolveApiKey(
            identity_pb2.ResolveApiKeyRequest(api_key=created["key"]), timeout=10
        )

        assert resolved.api_key_id == created["id"]
        assert resolved.agency_id == str(agency.agency_id)
        assert resolved.role == "manager"
        assert 0 < resolved.expires_in <= 15 * 60
        _, claims = unverified_jwt(resolved.access_token)
        assert claims["sub"] == claims["akid"] == created["id"]
        assert claims["tid"] == str(agency.agency_id)
        assert claims["role"] == "manager"
        assert "clients.write" in claims["perms"]
        assert "api_keys.write" not in claims["perms"]

    @pytest.mark.parametrize("shape", ["unknown", "malformed", "empty"])
    async def test_a_key_that_is_not_one_is_unauthenticated(
        self,
        shape: str,
        identity_stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
    ) -> None:
        api_key = {
            "unknown": well_formed_key(agency.agency_id),
            "malformed": "ak_" + uuid.uuid4().hex,
            "empty": "",
        }[shape]

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await identity_stub.ResolveApiKey(
                identity_pb2.ResolveApiKeyRequest(api_key=api_key), timeout=10
            )

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert caught.value.details() == "the API key is not valid"
