"""Work against hostile input, through the gateway: NUL in templates and searches, strict
money, offsets and dates, and If-Match values no task version can have."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.http import assert_invalid_fields, assert_problem, send_json


class TestStrings:
    async def test_a_nul_anywhere_in_a_template_is_422_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        base: dict[str, Any] = {"name": "Website", "billing_type": "fixed"}
        for body, field in [
            ({**base, "name": "Web\x00site"}, "name"),
            ({**base, "description": "x\x00"}, "description"),
            ({**base, "tasks": [{"title": "Kick\x00off"}]}, "tasks.0.title"),
            ({**base, "milestones": [{"name": "Launch\x00"}]}, "milestones.0.name"),
        ]:
            response = await send_json(
                gateway, agency.headers, "POST", "/v1/project-templates", body
            )
            assert_invalid_fields(response, field)

    async def test_a_nul_in_a_project_name_or_search_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await send_json(
            gateway, agency.headers, "POST", "/v1/projects", {"name": "P\x00"}
        )
        searched = await gateway.get("/v1/projects", params={"q": "\x00"}, headers=agency.headers)
        templates = await gateway.get(
            "/v1/project-templates", params={"q": "a\x00"}, headers=agency.headers
        )

        assert_invalid_fields(created, "name")
        assert_invalid_fields(searched, "query.q")
        assert_invalid_fields(templates, "query.q")


class TestNumbersAndDates:
    async def test_money_sent_as_text_or_a_boolean_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        for value in ("250000", True, 2**64):
            budget = await send_json(
                gateway,
                agency.headers,
                "POST",
                "/v1/projects",
                {"name": "P", "budget_cents": value},
            )
            milestone = await send_json(
                gateway,
                agency.headers,
                "POST",
                f"/v1/projects/{project['id']}/milestones",
                {"name": "Launch", "amount_cents": value},
            )
            assert_invalid_fields(budget, "budget_cents")
            assert_invalid_fields(milestone, "amount_cents")

    async def test_a_template_offset_sent_as_text_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = {
            "name": "W",
            "billing_type": "fixed",
            "milestones": [{"name": "Launch", "due_offset_days": "14"}],
        }

        response = await send_json(gateway, agency.headers, "POST", "/v1/project-templates", body)

        assert_invalid_fields(response, "milestones.0.due_offset_days")

    async def test_dates_that_are_not_iso_dates_are_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)

        started = await send_json(
            gateway, agency.headers, "POST", "/v1/projects", {"name": "P", "start_date": "0"}
        )
        task = await send_json(
            gateway,
            agency.headers,
            "POST",
            f"/v1/projects/{project['id']}/tasks",
            {"title": "T", "due_date": "0"},
        )
        listed = await gateway.get(
            f"/v1/projects/{project['id']}/tasks",
            params={"due_before": "0"},
            headers=agency.headers,
        )

        assert_invalid_fields(started, "start_date")
        assert_invalid_fields(task, "due_date")
        assert_invalid_fields(listed, "query.due_before")


class TestIfMatch:
    async def test_an_if_match_no_version_can_have_is_400_not_a_500(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await new_project(gateway, agency)
        task = await new_task(gateway, agency, project["id"])

        for value in ("99999999999", "9" * 5000, '"-1"'):
            response = await gateway.patch(
                f"/v1/tasks/{task['id']}",
                json={"title": "Renamed"},
                headers={**agency.headers, "If-Match": value},
            )
            assert_problem(response, 400)
