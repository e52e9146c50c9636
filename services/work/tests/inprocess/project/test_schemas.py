"""Projects and what they hold against hostile input: NUL in names and searches, money sent
as text, a boolean or beyond 64 bits, and dates that are not ISO dates are 422 naming the
field (no coercion)."""

from __future__ import annotations

import httpx

from agencyos.testing.factories import new_project
from agencyos.testing.http import assert_invalid_fields, send_json
from agencyos.testing.inprocess import Caller


class TestHostileInput:
    async def test_a_nul_in_a_project_name_or_search_is_422(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = await send_json(work, agency.headers, "POST", "/v1/projects", {"name": "P\x00"})
        searched = await work.get("/v1/projects", params={"q": "\x00"}, headers=agency.headers)
        templates = await work.get(
            "/v1/project-templates", params={"q": "a\x00"}, headers=agency.headers
        )

        assert_invalid_fields(created, "name")
        assert_invalid_fields(searched, "query.q")
        assert_invalid_fields(templates, "query.q")

    async def test_money_sent_as_text_or_a_boolean_is_422(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        for value in ("250000", True, 2**64):
            budget = await send_json(
                work,
                agency.headers,
                "POST",
                "/v1/projects",
                {"name": "P", "budget_cents": value},
            )
            milestone = await send_json(
                work,
                agency.headers,
                "POST",
                f"/v1/projects/{project['id']}/milestones",
                {"name": "Launch", "amount_cents": value},
            )
            assert_invalid_fields(budget, "budget_cents")
            assert_invalid_fields(milestone, "amount_cents")

    async def test_dates_that_are_not_iso_dates_are_422(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await new_project(work, agency)

        started = await send_json(
            work, agency.headers, "POST", "/v1/projects", {"name": "P", "start_date": "0"}
        )
        task = await send_json(
            work,
            agency.headers,
            "POST",
            f"/v1/projects/{project['id']}/tasks",
            {"title": "T", "due_date": "0"},
        )
        listed = await work.get(
            f"/v1/projects/{project['id']}/tasks",
            params={"due_before": "0"},
            headers=agency.headers,
        )

        assert_invalid_fields(started, "start_date")
        assert_invalid_fields(task, "due_date")
        assert_invalid_fields(listed, "query.due_before")
