"""API keys: creating one (shown once, stored only hashed), listing and revoking them, and who
may do what. (A key used as a Bearer credential is the gateway's part: the platform tier.)"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]

KEY_SHAPE = re.compile(r"^ak_[A-Za-z0-9_-]{43}\.[0-9a-f]{32}$")
CREATED = {
    "id",
    "name",
    "role",
    "prefix",
    "key",
    "created_at",
    "expires_at",
    "last_used_at",
    "created_by",
}
LISTED = {
    "id",
    "name",
    "role",
    "prefix",
    "created_at",
    "created_by",
    "expires_at",
    "last_used_at",
    "revoked_at",
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def create_key(
    identity: httpx.AsyncClient,
    who: AgencySession,
    *,
    name: str = "CI export",
    role: str = "member",
    expires_in_days: int | None = None,
) -> httpx.Response:
    return await identity.post(
        "/v1/api-keys",
        json={"name": name, "role": role, "expires_in_days": expires_in_days},
        headers=who.headers,
    )


async def new_key(identity: httpx.AsyncClient, who: AgencySession, **fields: Any) -> dict[str, Any]:
    response = await create_key(identity, who, **fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_keys(
    identity: httpx.AsyncClient, who: AgencySession, *, include_revoked: bool = False
) -> dict[str, Any]:
    params = {"include_revoked": "true"} if include_revoked else {}
    response = await identity.get("/v1/api-keys", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert set(page) == {"items", "total", "page", "per_page"}
    return page


async def listed_ids(
    identity: httpx.AsyncClient, who: AgencySession, *, include_revoked: bool = False
) -> list[str]:
    page = await list_keys(identity, who, include_revoked=include_revoked)
    return [item["id"] for item in page["items"]]


async def revoke(identity: httpx.AsyncClient, who: AgencySession, key_id: str) -> httpx.Response:
    return await identity.delete(f"/v1/api-keys/{key_id}", headers=who.headers)


async def sql(service: ServiceInProcess, tenant_id: uuid.UUID, query: str, *args: Any) -> list[Any]:
    """Run `query` as the owner role under `tenant_id` (how a test reaches past the API)."""
    return await fetch_rows(
        service.infra, service.database, query, *args, tenant_id=tenant_id, owner=True
    )


async def logged_in_again(identity: httpx.AsyncClient, who: AgencySession) -> AgencySession:
    """`who` with a fresh access token (it carries their permissions as they are now)."""
    response = await identity.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD, "agency_slug": who.slug},
    )
    assert response.status_code == 200, response.text
    return replace(who, access_token=response.json()["access_token"])


class TestCreatingAKey:
    async def test_the_owner_gets_the_key_once_with_its_details(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await create_key(identity, agency, name="Zapier sync", role="manager")

        assert response.status_code == 201, response.text
        body = response.json()
        assert set(body) == CREATED
        assert KEY_SHAPE.match(body["key"]), body["key"]
        assert body["key"].endswith(f".{agency.agency_id.hex}")
        assert body["prefix"] == body["key"][:11]
        assert (body["name"], body["role"]) == ("Zapier sync", "manager")
        assert body["created_by"] == str(agency.user_id)
        assert body["expires_at"] is None
        assert body["last_used_at"] is None
        # no cache keeps it, nor the Idempotency-Key store (agencyos.common.idempotency)
        assert response.headers["cache-control"] == "no-store"

    async def test_the_key_is_stored_only_as_its_hash(
        self, identity_service: ServiceInProcess, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await new_key(identity, agency)

        rows = await sql(
            identity_service,
            agency.agency_id,
            "SELECT * FROM api_keys WHERE id = $1",
            uuid.UUID(body["id"]),
        )

        assert len(rows) == 1
        assert rows[0]["key_hash"] == sha256(body["key"])
        assert body["key"] not in {str(value) for value in rows[0].values()}

    async def test_an_expiry_in_days_sets_when_the_key_stops_working(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = await new_key(identity, agency, expires_in_days=90)

        expires_at = datetime.fromisoformat(body["expires_at"])
        expected = datetime.now(UTC) + timedelta(days=90)
        assert abs(expires_at - expected) < timedelta(minutes=5)

    async def test_an_admin_may_create_an_admin_key(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        admin = await add_member(agency, "admin")

        body = await new_key(identity, admin, role="admin")

        assert body["role"] == "admin"
        assert body["created_by"] == str(admin.user_id)

    @pytest.mark.parametrize("role", ["manager", "member"])
    async def test_a_role_without_api_keys_write_gets_403(
        self, add_member: AddMember, role: str, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        who = await add_member(agency, role)

        response = await create_key(identity, who, role="member")

        assert_problem(response, 403, "permission-denied")
        assert await listed_ids(identity, agency) == []

    async def test_a_manager_granted_api_keys_write_still_cannot_create_an_admin_key(
        self,
        identity_service: ServiceInProcess,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(agency, "manager")
        await sql(
            identity_service,
            agency.agency_id,
            "UPDATE memberships SET granted_permissions = '{api_keys.write}' "
            "WHERE user_id = $1 RETURNING id",
            manager.user_id,
        )
        manager = await logged_in_again(identity, manager)

        admin_key = await create_key(identity, manager, role="admin")
        manager_key = await create_key(identity, manager, role="manager")
        member_key = await create_key(identity, manager, role="member")

        assert_problem(admin_key, 403, "permission-denied")
        assert_problem(manager_key, 403, "permission-denied")
        assert member_key.status_code == 201, member_key.text

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"role": "superuser"}, "role"),
            ({"role": "owner"}, "role"),
            ({"role": "client"}, "role"),
            ({"expires_in_days": 45}, "expires_in_days"),
            ({"expires_in_days": 0}, "expires_in_days"),
            ({"name": ""}, "name"),
            ({"name": "   "}, "name"),
            ({"name": "x" * 201}, "name"),
            ({"scopes": ["all"]}, "scopes"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self,
        changes: dict[str, Any],
        field: str,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        body = {"name": "CI export", "role": "member", "expires_in_days": 30, **changes}

        response = await identity.post("/v1/api-keys", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)
        assert await listed_ids(identity, agency) == []

    async def test_the_name_and_role_are_required(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.post("/v1/api-keys", json={}, headers=agency.headers)

        assert_invalid_fields(response, "name", "role")


class TestListingKeys:
    async def test_the_list_never_shows_a_key_or_its_hash_and_is_newest_first(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await new_key(identity, agency, name="first")
        second = await new_key(identity, agency, name="second", role="admin")

        response = await identity.get("/v1/api-keys", headers=agency.headers)

        assert response.status_code == 200, response.text
        page = response.json()
        assert page["total"] == 2
        assert [item["id"] for item in page["items"]] == [second["id"], first["id"]]
        for item in page["items"]:
            assert set(item) == LISTED
        assert page["items"][1]["prefix"] == first["key"][:11]
        for created in (first, second):
            assert created["key"] not in response.text
            assert sha256(created["key"]) not in response.text

    async def test_revoked_keys_are_listed_only_when_asked_for(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        kept = await new_key(identity, agency, name="kept")
        gone = await new_key(identity, agency, name="gone")
        assert (await revoke(identity, agency, gone["id"])).status_code == 204

        live = await list_keys(identity, agency)
        everything = await list_keys(identity, agency, include_revoked=True)

        assert [item["id"] for item in live["items"]] == [kept["id"]]
        assert live["total"] == 1
        by_id = {item["id"]: item for item in everything["items"]}
        assert set(by_id) == {kept["id"], gone["id"]}
        assert by_id[gone["id"]]["revoked_at"] is not None
        assert by_id[kept["id"]]["revoked_at"] is None

    async def test_another_agency_does_not_see_the_keys(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await new_key(identity, agency)

        assert await listed_ids(identity, other_agency, include_revoked=True) == []

    async def test_a_member_gets_403(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.get("/v1/api-keys", headers=member.headers)

        assert_problem(response, 403, "permission-denied")


class TestRevokingKeys:
    async def test_revoking_answers_204_and_a_second_time_404(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(identity, agency)

        first = await revoke(identity, agency, created["id"])
        second = await revoke(identity, agency, created["id"])

        assert first.status_code == 204, first.text
        assert_problem(second, 404, "not-found")

    async def test_an_unknown_id_is_404(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        assert_problem(await revoke(identity, agency, str(uuid.uuid4())), 404, "not-found")

    async def test_a_member_gets_403_and_the_key_stays(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await new_key(identity, agency)
        member = await add_member(agency, "member")

        response = await revoke(identity, member, created["id"])

        assert_problem(response, 403, "permission-denied")
        assert await listed_ids(identity, agency) == [created["id"]]
