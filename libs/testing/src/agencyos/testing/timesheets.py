"""Timesheets in tests: a team on an hourly project, time seeded into a week, the week read and
acted on through the gateway, and the rows, audit trail and events behind them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx

from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
)
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows
from agencyos.testing.time_entries import seed_time_entry

# ISO week 2026-W37: Monday 7 September to Sunday 13 September 2026 (in the past).
WEEK = "2026-W37"
MONDAY = date(2026, 9, 7)
HOUR = 3600


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    manager: AgencySession
    member: AgencySession
    project: dict[str, Any]


async def seed(
    platform: Platform,
    who: AgencySession,
    project: dict[str, Any],
    day: date,
    hours: float,
    **fields: Any,
) -> uuid.UUID:
    return await seed_time_entry(
        platform,
        who,
        user_id=who.user_id,
        project_id=uuid.UUID(project["id"]),
        day=day,
        duration_seconds=int(hours * HOUR),
        **fields,
    )


async def week_of(
    gateway: httpx.AsyncClient,
    caller: AgencySession,
    week: str = WEEK,
    user: AgencySession | None = None,
) -> dict[str, Any]:
    params = {"week": week}
    if user is not None:
        params["user_id"] = str(user.user_id)
    response = await gateway.get("/v1/timesheets", params=params, headers=caller.headers)
    assert response.status_code == 200, response.text
    sheet: dict[str, Any] = response.json()
    return sheet


async def act(
    gateway: httpx.AsyncClient,
    caller: AgencySession,
    sheet_id: str,
    action: str,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await gateway.post(
        f"/v1/timesheets/{sheet_id}/{action}", json=body, headers=caller.headers
    )


async def submitted_sheet(
    platform: Platform, gateway: httpx.AsyncClient, who: AgencySession, project: dict[str, Any]
) -> dict[str, Any]:
    """`who`'s week with two entries, submitted."""
    await seed(platform, who, project, MONDAY, 2)
    await seed(platform, who, project, MONDAY + timedelta(days=1), 3, is_billable=False)
    sheet = await week_of(gateway, who)
    response = await act(gateway, who, sheet["id"], "submit")
    assert response.status_code == 200, response.text
    submitted: dict[str, Any] = response.json()
    return submitted


async def entry_rows(platform: Platform, who: AgencySession, *ids: uuid.UUID) -> dict[str, Any]:
    rows = await fetch_rows(
        platform.infra,
        platform.database("time"),
        "SELECT id, status, version, billable_rate_cents, cost_rate_cents, currency "
        "FROM time_entries WHERE id = ANY($1::uuid[])",
        list(ids),
        tenant_id=who.agency_id,
        owner=True,
    )
    return {str(r["id"]): dict(r) for r in rows}


async def trail(
    platform: Platform, who: AgencySession, entry_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The entry's audit trail, oldest first (`changes` decoded)."""
    rows = await fetch_rows(
        platform.infra,
        platform.database("time"),
        "SELECT action, actor_id, changes FROM time_entry_changes WHERE entry_id = $1 "
        "ORDER BY at, id",
        entry_id,
        tenant_id=who.agency_id,
        owner=True,
    )
    return [{**dict(r), "changes": json.loads(r["changes"])} for r in rows]


async def seed_rate(
    platform: Platform,
    who: AgencySession,
    *,
    kind: str,
    scope: str,
    cents: int,
    effective_from: date,
    user_id: uuid.UUID | None = None,
    project_id: str | None = None,
) -> None:
    conn = await platform.infra.raw(platform.database("time"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config('app.tenant_id', $1, true)", str(who.agency_id))
            await conn.execute(
                "INSERT INTO rates (tenant_id, id, kind, scope, user_id, project_id, "
                "hourly_rate_cents, effective_from) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                who.agency_id,
                uuid.uuid4(),
                kind,
                scope,
                user_id,
                uuid.UUID(project_id) if project_id else None,
                cents,
                effective_from,
            )
    finally:
        await conn.close()


async def time_events(
    platform: Platform, who: AgencySession, event_type: str, sheet_id: str, count: int = 1
) -> list[dict[str, Any]]:
    def matching(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, tenantid=str(who.agency_id), type=event_type)
            if e["data"]["timesheet_id"] == sheet_id
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        f"{platform.topic_prefix}time.events",
        lambda rs: len(matching(rs)) >= count,
        timeout=60.0,
    )
    return matching(records)


def statuses(sheet: dict[str, Any]) -> list[str]:
    return sorted(e["status"] for e in sheet["entries"])


# --- the week view ---------------------------------------------------------------------------


async def new_team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    """The agency's owner, a manager and a member, on an hourly project (12 000 an hour)."""
    manager = await add_member(platform, gateway, agency, "manager")
    member = await add_member(platform, gateway, agency, "member")
    project = await new_project(
        gateway, agency, manager, member, billing_type="hourly", hourly_rate_cents=12_000
    )
    return Team(agency, manager, member, project)
