"""Logging a time entry through the real gateway publishes `time.entry.logged` on Kafka.
The entry rules themselves (logging, bad input, reading and listing, editing, deleting, the
export) are tested in-process: tests/inprocess/entry/."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.time_entries import HOUR, YESTERDAY, Team, hour_on, new_team


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    return await new_team(platform, gateway, agency)


class TestLogging:
    async def test_logging_publishes_time_entry_logged(
        self, platform: Platform, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        entry = await hour_on(gateway, team.member, team.project)

        def mine(records: list[Any]) -> list[dict[str, Any]]:
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
            lambda rs: len(mine(rs)) >= 1,
        )
        [event] = mine(records)
        assert event["subject"] == f"time-entries/{entry['id']}"
        assert event["data"]["user_id"] == str(team.member.user_id)
        assert event["data"]["project_id"] == team.project["id"]
        assert event["data"]["client_id"] == str(team.client_id)
        assert event["data"]["date"] == YESTERDAY.isoformat()
        assert event["data"]["duration_seconds"] == HOUR
        assert event["data"]["is_billable"] is True
