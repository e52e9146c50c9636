"""The in-process tier of identity: its app through httpx.ASGITransport, its own database
(cloned from the migrated template, emptied after each test), CRM as a typed stand-in.

identity accepts only the tokens it signs itself, so the agencies here are signed up and their
people invited through identity's own API (not minted with the test keys). A client member is
the one exception: binding one goes through CRM, whose stand-in accepts only test-key tokens,
so a client membership is written straight into the database and its person logs into it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, invite, signup_agency
from agencyos.testing.inprocess import InProcess, ServiceInProcess, service_client
from agencyos.testing.sql import fetch_rows

identity = service_client("identity")

# The fixtures' types, spelt out again where a test annotates them.
AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def agency(identity: httpx.AsyncClient) -> AgencySession:
    """The owner of a newly signed-up agency (a token identity signed)."""
    return await signup_agency(identity)


@pytest.fixture
async def other_agency(identity: httpx.AsyncClient) -> AgencySession:
    return await signup_agency(identity)


@pytest.fixture
async def identity_service(in_process: InProcess, identity: httpx.AsyncClient) -> ServiceInProcess:
    """identity in this process: its settings and its database (`.infra`, `.database`)."""
    return await in_process.service("identity")


async def _rows(
    service: ServiceInProcess,
    query: str,
    *args: Any,
    tenant_id: uuid.UUID | None = None,
    relay: bool = False,
) -> list[asyncpg.Record]:
    return await fetch_rows(
        service.infra, service.database, query, *args, tenant_id=tenant_id, owner=True, relay=relay
    )


@pytest.fixture
def add_membership(identity_service: ServiceInProcess) -> AddMembership:
    """`await add_membership(agency, user_id, role)`: make an existing user a member of
    `agency` too (a second agency for one login), written straight into the database under
    the agency's tenant (a client membership gets a made-up client)."""

    async def add(agency: AgencySession, user_id: uuid.UUID, role: str = "member") -> None:
        await _rows(
            identity_service,
            "INSERT INTO memberships (tenant_id, id, user_id, role, client_id) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            agency.agency_id,
            uuid.uuid4(),
            user_id,
            role,
            uuid.uuid4() if role == "client" else None,
            tenant_id=agency.agency_id,
        )

    return add


@pytest.fixture
def outbox(identity_service: ServiceInProcess) -> Outbox:
    """`await outbox(event_type, tenant_id)`: the envelopes of `event_type` (of every type if
    None) identity wrote to its outbox, oldest first, of every tenant unless one is named:
    what its relay publishes, read without Kafka."""

    async def events(
        event_type: str | None, tenant_id: uuid.UUID | None = None
    ) -> list[dict[str, Any]]:
        rows = await _rows(
            identity_service,
            "SELECT envelope FROM outbox WHERE ($1::text IS NULL OR event_type = $1) "
            "AND ($2::uuid IS NULL OR tenant_id = $2) ORDER BY id",
            event_type,
            tenant_id,
            relay=True,
        )
        return [
            json.loads(r["envelope"]) if isinstance(r["envelope"], str) else dict(r["envelope"])
            for r in rows
        ]

    return events


@pytest.fixture
def add_member(identity: httpx.AsyncClient, add_membership: AddMembership) -> AddMember:
    """`await add_member(agency, role)`: a new person in `agency` with `role`, who joined
    through an invitation the agency's session made. A client member (whose binding would
    ask CRM) is a person with an agency of their own, given a client membership in `agency`
    in the database, logged into it."""

    async def add(agency: AgencySession, role: str) -> AgencySession:
        tag = uuid.uuid4().hex[:10]
        if role == "client":
            person = await signup_agency(identity)
            await add_membership(agency, person.user_id, "client")
            response = await identity.post(
                "/v1/auth/login",
                json={"email": person.email, "password": PASSWORD, "agency_slug": agency.slug},
            )
            assert response.status_code == 200, response.text
            body = response.json()
            return AgencySession(
                agency_id=agency.agency_id,
                slug=agency.slug,
                user_id=person.user_id,
                email=person.email,
                access_token=body["access_token"],
                refresh_token=body["refresh_token"],
                role=role,
            )
        email = f"{role}-{tag}@example.com"
        invitation = await invite(identity, agency, email, role)
        response = await identity.post(
            f"/v1/invitations/{invitation['token']}/accept",
            json={"name": f"{role.title()} {tag}", "password": PASSWORD},
        )
        assert response.status_code == 201, response.text
        body = response.json()
        return AgencySession(
            agency_id=agency.agency_id,
            slug=agency.slug,
            user_id=uuid.UUID(body["user"]["id"]),
            email=email,
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            role=role,
        )

    return add
