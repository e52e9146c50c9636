"""Time against hostile input, through the gateway: strict durations, dates and date-times,
NUL in descriptions and rejection reasons, rates sent as text, and rate messages' wording."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.platform import Platform
from agencyos.testing.time_entries import YESTERDAY, Team, at, new_team


@pytest.fixture
async def team(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Team:
    return await new_team(platform, gateway, agency)


async def log_raw(
    gateway: httpx.AsyncClient, who: AgencySession, body: dict[str, Any]
) -> httpx.Response:
    return await gateway.post(
        "/v1/time-entries",
        content=json.dumps(body).encode(),
        headers={**who.headers, "content-type": "application/json"},
    )


class TestEntries:
    async def test_a_duration_sent_as_text_a_boolean_or_a_float_is_422(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        for seconds in ("3600", True, 3600.0, 2**64):
            response = await log_raw(
                gateway,
                team.member,
                {
                    "project_id": team.project["id"],
                    "date": YESTERDAY.isoformat(),
                    "duration_seconds": seconds,
                },
            )
            assert_invalid_fields(response, "duration_seconds")

    async def test_a_day_or_time_that_is_not_iso_is_422(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        base = {"project_id": team.project["id"], "duration_seconds": 3600}
        for body, field in [
            ({**base, "date": "0"}, "date"),
            ({**base, "date": 0}, "date"),
            (
                {
                    "project_id": team.project["id"],
                    "started_at": "0",
                    "ended_at": at(YESTERDAY, 10),
                },
                "started_at",
            ),
        ]:
            response = await log_raw(gateway, team.member, body)
            assert_invalid_fields(response, field)
        listed = await gateway.get(
            "/v1/time-entries", params={"date_from": "0"}, headers=team.member.headers
        )
        assert_invalid_fields(listed, "query.date_from")

    async def test_a_description_keeps_its_lines_but_refuses_nul_and_escapes(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        base = {
            "project_id": team.project["id"],
            "date": YESTERDAY.isoformat(),
            "duration_seconds": 600,
        }
        kept = await log_raw(gateway, team.member, {**base, "description": "Call\n\tnotes"})
        for text in ("a\x00b", "a\x1b[31mred"):
            response = await log_raw(gateway, team.member, {**base, "description": text})
            assert_invalid_fields(response, "description")

        assert kept.status_code == 201, kept.text
        assert kept.json()["entries"][0]["description"] == "Call\n\tnotes"


class TestRates:
    async def test_an_hourly_rate_sent_as_text_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = {"kind": "billable", "scope": "agency", "effective_from": "2026-01-01"}
        for cents in ("10000", True, 2**64):
            response = await gateway.post(
                "/v1/rates", json={**body, "hourly_rate_cents": cents}, headers=agency.headers
            )
            assert_invalid_fields(response, "hourly_rate_cents")
        response = await gateway.post(
            "/v1/rates",
            json={**body, "hourly_rate_cents": 100, "effective_from": "0"},
            headers=agency.headers,
        )
        assert_invalid_fields(response, "effective_from")

    async def test_an_agency_rate_naming_a_person_is_told_an_agency_rate_takes_none(
        self, gateway: httpx.AsyncClient, team: Team
    ) -> None:
        response = await gateway.post(
            "/v1/rates",
            json={
                "kind": "billable",
                "scope": "agency",
                "user_id": str(team.member.user_id),
                "hourly_rate_cents": 10_000,
                "effective_from": "2026-01-01",
            },
            headers=team.owner.headers,
        )

        body = assert_invalid_fields(response, "user_id")
        assert body["errors"][0]["message"] == "an agency rate takes no user_id"
