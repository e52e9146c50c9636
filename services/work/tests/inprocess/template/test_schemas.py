"""A template's shape against hostile input: a NUL anywhere is 422 naming the field, an
offset sent as text is refused (no coercion)."""

from __future__ import annotations

from typing import Any

import httpx

from agencyos.testing.http import assert_invalid_fields, send_json
from agencyos.testing.inprocess import Caller


class TestHostileInput:
    async def test_a_nul_anywhere_in_a_template_is_422_naming_the_field(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        base: dict[str, Any] = {"name": "Website", "billing_type": "fixed"}
        for body, field in [
            ({**base, "name": "Web\x00site"}, "name"),
            ({**base, "description": "x\x00"}, "description"),
            ({**base, "tasks": [{"title": "Kick\x00off"}]}, "tasks.0.title"),
            ({**base, "milestones": [{"name": "Launch\x00"}]}, "milestones.0.name"),
        ]:
            response = await send_json(work, agency.headers, "POST", "/v1/project-templates", body)
            assert_invalid_fields(response, field)

    async def test_a_template_offset_sent_as_text_is_422(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        body = {
            "name": "W",
            "billing_type": "fixed",
            "milestones": [{"name": "Launch", "due_offset_days": "14"}],
        }

        response = await send_json(work, agency.headers, "POST", "/v1/project-templates", body)

        assert_invalid_fields(response, "milestones.0.due_offset_days")
