"""The in-process tier of time: its app through httpx.ASGITransport, its own database (cloned
from the migrated template, emptied after each test), identity and work as typed stand-ins.

The client fixture is `time_api`, not `time`: a parameter named `time` would shadow
`datetime.time`, which these tests use."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import cast

import grpc
import httpx
import pytest

from agencyos.common.events import (
    AgencyCreated,
    MemberAdded,
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
    build_event,
)
from agencyos.protos.time.v1 import time_pb2_grpc
from agencyos.testing.infra import Infra
from agencyos.testing.inprocess import Agency, Caller, InProcess, ServiceInProcess, service_client
from agencyos.testing.platform import Platform
from agencyos.testing.time_entries import HOUR, LAST_WEEK, Team
from agencyos.testing.time_invoicing import Books

time_api = service_client("time")


SeedEntry = Callable[..., Awaitable[uuid.UUID]]
IdentityEvent = (
    AgencyCreated
    | MemberAdded
    | MemberRoleChanged
    | MemberSuspended
    | MemberReactivated
    | MemberRemoved
)
IdentitySays = Callable[[IdentityEvent], Awaitable[str]]
Join = Callable[..., Awaitable[None]]


@pytest.fixture
def agency(tenant: Agency) -> Caller:
    """The owner of a made-up agency (shaped like the platform tier's `AgencySession`)."""
    return tenant.owner


@pytest.fixture
def other_agency(other_tenant: Agency) -> Caller:
    return other_tenant.owner


@pytest.fixture
async def time_db(in_process: InProcess, time_api: object) -> ServiceInProcess:
    """Time's service in this process, for reading and writing its database directly."""
    return await in_process.service("time")


@pytest.fixture
def team(in_process: InProcess, tenant: Agency) -> Team:
    """The owner, a manager and two members on an active hourly project of a CRM client (the
    project and client declared on the work stand-in, as the platform tier's `new_team` makes
    them through work's and CRM's APIs)."""
    manager = tenant.caller("manager")
    member = tenant.caller("member")
    colleague = tenant.caller("member")
    client_id = in_process.standins.crm.add_client(tenant.id)
    project_id = in_process.standins.work.add_project(
        tenant.id,
        tenant.owner.user_id,
        manager.user_id,
        member.user_id,
        colleague.user_id,
        client_id=client_id,
        billing_type="hourly",
        status="active",
    )
    project = in_process.standins.work.projects[(tenant.id, project_id)]
    return Team(
        tenant.owner,  # Callers, shaped like AgencySession
        manager,
        member,
        colleague,
        {"id": project.id, "name": project.name},
        client_id,
    )


@pytest.fixture
def seed_entry(time_db: ServiceInProcess) -> SeedEntry:
    """A time entry written straight into time's database under the agency's tenant (for
    entries in a given state without walking the timesheet flow); the database's own
    constraints still apply. Takes the platform tier's `seed_time_entry` arguments."""

    async def seed(
        agency: Caller,
        *,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        day: date,
        duration_seconds: int,
        status: str = "draft",
        is_billable: bool = True,
        client_id: uuid.UUID | None = None,
        task_id: uuid.UUID | None = None,
        description: str = "",
        started_at: datetime | None = None,
        billable_rate_cents: int | None = None,
        currency: str | None = None,
        invoice_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        entry_id = uuid.uuid4()
        ended_at = started_at + timedelta(seconds=duration_seconds) if started_at else None
        conn = await time_db.infra.raw(time_db.database, owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute(
                    "INSERT INTO time_entries (tenant_id, id, user_id, project_id, task_id, "
                    "client_id, date, started_at, ended_at, duration_seconds, description, "
                    "is_billable, status, billable_rate_cents, currency, created_by, "
                    "invoice_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
                    "$13, $14, $15, $3, $16)",
                    agency.agency_id,
                    entry_id,
                    user_id,
                    project_id,
                    task_id,
                    client_id,
                    day,
                    started_at,
                    ended_at,
                    duration_seconds,
                    description,
                    is_billable,
                    status,
                    billable_rate_cents,
                    currency,
                    invoice_id,
                )
        finally:
            await conn.close()
        return entry_id

    return seed


@pytest.fixture
def entry_in_status(team: Team, seed_entry: SeedEntry) -> Callable[[str], Awaitable[uuid.UUID]]:
    """The team member's entry last week in a given status, set straight in time's database
    (an invoiced one with an invoice id)."""

    async def in_status(status: str) -> uuid.UUID:
        return await seed_entry(
            team.owner,
            user_id=team.member.user_id,
            project_id=uuid.UUID(team.project["id"]),
            day=LAST_WEEK,
            duration_seconds=HOUR,
            status=status,
            invoice_id=uuid.uuid4() if status == "invoiced" else None,
        )

    return in_status


@dataclass(frozen=True)
class _Databases:
    """This worker's in-process service databases, answering `database(name)` as `Platform`
    does: what the `agencyos.testing` helpers that only read or write a service's database
    (`seed_time_entry`, `entry_rows`, `trail`, `seed_rate`, `Books`) use of a platform."""

    infra: Infra
    names: dict[str, str]

    def database(self, service: str) -> str:
        return self.names[service]


@pytest.fixture
def time_store(time_db: ServiceInProcess) -> Platform:
    """Time's database in this process, for the database helpers written for the platform
    tier (they use only `infra` and `database("time")` of it)."""
    return cast(Platform, _Databases(time_db.infra, {"time": time_db.database}))


@pytest.fixture
async def stub(
    in_process: InProcess, time_api: httpx.AsyncClient
) -> AsyncIterator[time_pb2_grpc.TimeServiceStub]:
    """Time's own gRPC servicers in this process (one transaction per call, as in
    production); `time_api` so the tables are emptied after the test."""
    async with grpc.aio.insecure_channel(await in_process.grpc_target("time")) as channel:
        yield time_pb2_grpc.TimeServiceStub(channel)


@pytest.fixture
async def books(
    in_process: InProcess, tenant: Agency, time_api: httpx.AsyncClient, time_store: Platform
) -> Books:
    """The agency's `Books` (as the platform tier's `new_books` makes them): a member, a CRM
    client, its EUR project (work rate 12 000) and USD project (no rate) on the work stand-in,
    and an agency billable rate of 10 000 from 2026-01-01."""
    person = tenant.caller("member")
    client_id = in_process.standins.crm.add_client(tenant.id)
    work = in_process.standins.work
    eur = work.add_project(
        tenant.id,
        tenant.owner.user_id,
        person.user_id,
        client_id=client_id,
        billing_type="hourly",
        hourly_rate_cents=12_000,
        currency="EUR",
    )
    usd = work.add_project(
        tenant.id,
        tenant.owner.user_id,
        person.user_id,
        client_id=client_id,
        billing_type="hourly",
        currency="USD",
    )
    response = await time_api.post(
        "/v1/rates",
        json={
            "kind": "billable",
            "scope": "agency",
            "hourly_rate_cents": 10_000,
            "effective_from": "2026-01-01",
        },
        headers=tenant.owner.headers,
    )
    assert response.status_code == 201, response.text
    return Books(tenant.owner, person, client_id, eur, usd, time_store)  # type: ignore[arg-type]


@pytest.fixture
def identity_says(in_process: InProcess, time_api: httpx.AsyncClient) -> IdentitySays:
    """Hand one of identity's events (under its agency's tenant) to time's own consumer runner,
    as read from identity's topic (inbox, the handler in the runner's transaction), without
    Kafka; answers the runner's outcome ("ok", "duplicate")."""

    async def deliver(payload: IdentityEvent) -> str:
        event = build_event(payload, tenant_id=payload.agency_id, source_service="identity")
        return await in_process.deliver("time", event)

    return deliver


@pytest.fixture
def join(identity_says: IdentitySays) -> Join:
    """`identity.member.added` for a caller (with their role), as identity publishes it when
    someone signs up or accepts an invitation: time's roster hears of them."""

    async def joined(person: Caller, *, name: str | None = None) -> None:
        outcome = await identity_says(
            MemberAdded(
                agency_id=person.agency_id,
                user_id=person.user_id,
                email=f"{person.user_id.hex[:10]}@example.com",
                name=name or f"{person.role.title()} {person.user_id.hex[:6]}",
                role=person.role,
            )
        )
        assert outcome == "ok", outcome

    return joined
