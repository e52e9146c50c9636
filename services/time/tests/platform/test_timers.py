"""Stopping a timer through the real gateway publishes `time.entry.logged` on Kafka. The
timer rules themselves are tested in-process: tests/inprocess/timer/."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, add_member, new_project
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.timezones import set_timezone, zone_where_it_is


@dataclass(frozen=True)
class Team:
    owner: AgencySession
    member: AgencySession
    project: dict[str, Any]


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    # Midday in the agency's zone, so the minutes and hours a test backdates a timer by never
    # cross the agency's midnight (which would split the entry) whenever the suite runs; the
    # midnight test picks its own zone.
    await set_timezone(gateway, agency, zone_where_it_is(12))
    member = await add_member(platform, gateway, agency, "member")
    project = await new_project(gateway, agency, member, billing_type="hourly", status="active")
    return Team(agency, member, project)


async def start(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> httpx.Response:
    return await gateway.post("/v1/timers/start", json=body, headers=who.headers)


async def started(gateway: httpx.AsyncClient, who: AgencySession, **body: Any) -> dict[str, Any]:
    response = await start(gateway, who, **body)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def stop(gateway: httpx.AsyncClient, who: AgencySession) -> httpx.Response:
    return await gateway.post("/v1/timers/stop", headers=who.headers)


async def backdate(platform: Platform, who: AgencySession, started_at: datetime) -> None:
    """Let `who`'s running timer have started at `started_at`."""
    await fetch_value(
        platform.infra,
        platform.database("time"),
        "UPDATE timers SET started_at = $1 WHERE user_id = $2 RETURNING id",
        started_at,
        who.user_id,
        tenant_id=who.agency_id,
        owner=True,
    )


class TestStartingAndStopping:
    async def test_stopping_publishes_time_entry_logged(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        await started(gateway, team.member, project_id=team.project["id"])
        await backdate(platform, team.member, datetime.now(UTC) - timedelta(minutes=30))
        response = await stop(gateway, team.member)
        [entry] = response.json()["entries"]

        def logged(records: list[Any]) -> list[dict[str, Any]]:
            return [
                e
                for e in events_where(
                    records, tenantid=str(team.owner.agency_id), type="time.entry.logged"
                )
                if e["data"]["entry_id"] == entry["id"]
            ]

        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}time.events",
            lambda rs: len(logged(rs)) >= 1,
        )
        assert logged(records)[0]["data"]["duration_seconds"] == entry["duration_seconds"]
