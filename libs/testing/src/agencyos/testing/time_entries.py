"""Time entries in tests: a team on a client's hourly project, entries logged through the
gateway, their list and audit trail, an entry put straight into a given status, and the CSV
export's rows."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx

from agencyos.testing.factories import (
    AgencySession,
    add_member,
    create_crm_client,
    new_project,
)
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value

HOUR = 3600
# Days safely in the past whatever the hour (the agencies here keep the default UTC zone).
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
LAST_WEEK = YESTERDAY - timedelta(days=7)


async def seed_time_entry(
    platform: Platform,
    agency: AgencySession,
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
) -> uuid.UUID:
    """A time entry written straight into time's database under the agency's tenant, for
    time's own tests that need entries in a given state (say, approved) without walking the
    whole timesheet flow first; other services' tests log and approve time through time's API
    (`agencyos.testing.invoicing.Books.time`). The database's own constraints still apply
    (no overlaps, at most 12 hours). Tests of logging and approval themselves go through the
    API."""
    entry_id = uuid.uuid4()
    ended_at = started_at + timedelta(seconds=duration_seconds) if started_at else None
    conn = await platform.infra.raw(platform.database("time"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                "INSERT INTO time_entries (tenant_id, id, user_id, project_id, task_id, "
                "client_id, date, started_at, ended_at, duration_seconds, description, "
                "is_billable, status, billable_rate_cents, currency, created_by) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $3)",
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
            )
    finally:
        await conn.close()
    return entry_id


def at(day: date, hour: int, minute: int = 0) -> str:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC).isoformat()


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    manager: AgencySession
    member: AgencySession
    colleague: AgencySession
    project: dict[str, Any]
    client_id: uuid.UUID


async def log(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> httpx.Response:
    return await gateway.post("/v1/time-entries", json=body, headers=who.headers)


async def logged(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> dict[str, Any]:
    """The one entry a successful log request made."""
    response = await log(gateway, who, **body)
    assert response.status_code == 201, response.text
    [entry] = response.json()["entries"]
    return dict(entry)


async def hour_on(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    project: dict[str, Any],
    day: date = YESTERDAY,
    hour: int = 9,
    **fields: Any,
) -> dict[str, Any]:
    return await logged(
        gateway,
        who,
        project_id=project["id"],
        started_at=at(day, hour),
        ended_at=at(day, hour + 1),
        **fields,
    )


async def listing(gateway: httpx.AsyncClient, who: AgencySession, **params: Any) -> dict[str, Any]:
    response = await gateway.get("/v1/time-entries", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def history(
    gateway: httpx.AsyncClient, who: AgencySession, entry_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(f"/v1/time-entries/{entry_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def new_team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    """The owner, a manager and two members on an active hourly project of a CRM client."""
    manager = await add_member(platform, gateway, agency, "manager")
    member = await add_member(platform, gateway, agency, "member")
    colleague = await add_member(platform, gateway, agency, "member")
    client_id = await create_crm_client(platform, agency)
    project = await new_project(
        gateway,
        agency,
        manager,
        member,
        colleague,
        client_id=str(client_id),
        billing_type="hourly",
        status="active",
    )
    return Team(agency, manager, member, colleague, project, client_id)


async def entry_in_status(platform: Platform, team: Team, status: str) -> uuid.UUID:
    """The member's entry last week in `status`, set straight in time's database (an
    invoiced one with an invoice id)."""
    entry_id = await seed_time_entry(
        platform,
        team.owner,
        user_id=team.member.user_id,
        project_id=uuid.UUID(team.project["id"]),
        day=LAST_WEEK,
        duration_seconds=HOUR,
        status="approved" if status == "invoiced" else status,
    )
    if status == "invoiced":
        await fetch_value(
            platform.infra,
            platform.database("time"),
            "UPDATE time_entries SET status = 'invoiced', invoice_id = $1 WHERE id = $2 "
            "RETURNING id",
            uuid.uuid4(),
            entry_id,
            tenant_id=team.owner.agency_id,
            owner=True,
        )
    return entry_id


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))
