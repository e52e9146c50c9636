"""What an entry request may hold (`entry/schemas.py`), against hostile input: strict durations
(no text, booleans, floats or numbers past 64 bits), ISO dates and date-times only, and
descriptions that keep their lines but refuse NUL and escape sequences."""

from __future__ import annotations

import json
from typing import Any

import httpx

from agencyos.common.rpc import close_channels
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller
from agencyos.testing.time_entries import YESTERDAY, Team, at


async def log_raw(time_api: httpx.AsyncClient, who: Caller, body: dict[str, Any]) -> httpx.Response:
    return await time_api.post(
        "/v1/time-entries",
        content=json.dumps(body).encode(),
        headers={**who.headers, "content-type": "application/json"},
    )


class TestEntries:
    async def test_a_duration_sent_as_text_a_boolean_or_a_float_is_422(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        for seconds in ("3600", True, 3600.0, 2**64):
            response = await log_raw(
                time_api,
                team.member,
                {
                    "project_id": team.project["id"],
                    "date": YESTERDAY.isoformat(),
                    "duration_seconds": seconds,
                },
            )
            assert_invalid_fields(response, "duration_seconds")

    async def test_a_day_or_time_that_is_not_iso_is_422(
        self, time_api: httpx.AsyncClient, team: Team
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
            response = await log_raw(time_api, team.member, body)
            assert_invalid_fields(response, field)
        listed = await time_api.get(
            "/v1/time-entries", params={"date_from": "0"}, headers=team.member.headers
        )
        assert_invalid_fields(listed, "query.date_from")

    async def test_a_description_keeps_its_lines_but_refuses_nul_and_escapes(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        base = {
            "project_id": team.project["id"],
            "date": YESTERDAY.isoformat(),
            "duration_seconds": 600,
        }
        kept = await log_raw(time_api, team.member, {**base, "description": "Call\n\tnotes"})
        for text in ("a\x00b", "a\x1b[31mred"):
            response = await log_raw(time_api, team.member, {**base, "description": text})
            assert_invalid_fields(response, "description")

        assert kept.status_code == 201, kept.text
        assert kept.json()["entries"][0]["description"] == "Call\n\tnotes"


class TestAFreshProcess:
    async def test_bad_input_is_a_422_before_any_peer_channel_exists(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        """The entry routes resolve their peers in a sync dependency (a worker thread); a
        grpc.aio channel cannot be made there, so peer clients make theirs at call time, on
        the event loop. As in a process that has called no peer yet: no channel exists."""
        await close_channels()

        response = await log_raw(time_api, team.member, {"project_id": "nope"})

        assert_invalid_fields(response, "project_id")
