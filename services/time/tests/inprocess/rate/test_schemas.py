"""What a rate request may hold (`rate/schemas.py`), against hostile input: an hourly rate sent
as text, a boolean or past 64 bits, a date that is not ISO, and the wording of a scope's
message."""

from __future__ import annotations

import httpx

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller
from agencyos.testing.time_entries import Team


class TestRates:
    async def test_an_hourly_rate_sent_as_text_is_422(
        self, time_api: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = {"kind": "billable", "scope": "agency", "effective_from": "2026-01-01"}
        for cents in ("10000", True, 2**64):
            response = await time_api.post(
                "/v1/rates", json={**body, "hourly_rate_cents": cents}, headers=agency.headers
            )
            assert_invalid_fields(response, "hourly_rate_cents")
        response = await time_api.post(
            "/v1/rates",
            json={**body, "hourly_rate_cents": 100, "effective_from": "0"},
            headers=agency.headers,
        )
        assert_invalid_fields(response, "effective_from")

    async def test_an_agency_rate_naming_a_person_is_told_an_agency_rate_takes_none(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        response = await time_api.post(
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
