"""Async factories for test data, made through the real API wherever the API can make it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from agencyos.common.testing.platform import Platform

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class AgencySession:
    agency_id: uuid.UUID
    slug: str
    user_id: uuid.UUID
    email: str
    access_token: str
    refresh_token: str
    role: str = "owner"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def signup_agency(client: httpx.AsyncClient, name: str | None = None) -> AgencySession:
    tag = uuid.uuid4().hex[:10]
    response = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": name or f"Agency {tag}",
            "email": f"owner-{tag}@example.com",
            "password": PASSWORD,
            "name": f"Owner {tag}",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return AgencySession(
        agency_id=uuid.UUID(body["agency"]["id"]),
        slug=body["agency"]["slug"],
        user_id=uuid.UUID(body["user"]["id"]),
        email=body["user"]["email"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )


async def add_membership(
    platform: Platform, agency: AgencySession, user_id: uuid.UUID, role: str = "member"
) -> None:
    """Make an existing user a member of `agency` too (a second agency for one login).

    Invitations are not built yet, so the row is written straight into identity's database,
    under the agency's tenant as RLS requires.
    """
    conn = await platform.infra.raw(platform.database("identity"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                "INSERT INTO memberships (tenant_id, id, user_id, role, client_id) "
                "VALUES ($1, $2, $3, $4, $5)",
                agency.agency_id,
                uuid.uuid4(),
                user_id,
                role,
                uuid.uuid4() if role == "client" else None,
            )
    finally:
        await conn.close()


async def add_member(
    platform: Platform, client: httpx.AsyncClient, agency: AgencySession, role: str
) -> AgencySession:
    """A second person in `agency` with `role`, logged in through the API.

    Invitations are not built yet, so the membership row is written straight into identity's
    database (under the agency's tenant, as RLS requires); the token comes from a real login.
    """
    from agencyos.identity.passwords import hash_password

    tag = uuid.uuid4().hex[:10]
    email = f"{role}-{tag}@example.com"
    user_id = uuid.uuid4()
    conn = await platform.infra.raw(platform.database("identity"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                "INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)",
                user_id,
                email,
                f"{role.title()} {tag}",
                hash_password(PASSWORD),
            )
            await conn.execute(
                "INSERT INTO memberships (tenant_id, id, user_id, role, client_id) "
                "VALUES ($1, $2, $3, $4, $5)",
                agency.agency_id,
                uuid.uuid4(),
                user_id,
                role,
                uuid.uuid4() if role == "client" else None,
            )
    finally:
        await conn.close()
    response = await client.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD, "agency_slug": agency.slug},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return AgencySession(
        agency_id=agency.agency_id,
        slug=agency.slug,
        user_id=user_id,
        email=email,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        role=role,
    )
