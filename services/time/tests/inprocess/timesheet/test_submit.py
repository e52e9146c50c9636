"""Submitting a week (`timesheet/service.py`): it locks the draft and rejected entries with an
audit trail and a `time.timesheet.submitted` event in the outbox; not twice, not empty, only by
its owner, not with a timer still running in the week; submitted entries cannot be edited."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows
from agencyos.testing.timesheets import (
    HOUR,
    MONDAY,
    Team,
    act,
    entry_rows,
    seed,
    statuses,
    submitted_sheet,
    trail,
    week_of,
)


async def outbox_events(
    time_store: Platform, who: Caller, event_type: str, sheet_id: str, count: int = 1
) -> list[dict[str, Any]]:
    """The `event_type` events about the timesheet that time wrote to its outbox (the relay
    publishes them: the platform tier); exactly `count` of them."""
    rows = await fetch_rows(
        time_store.infra,
        time_store.database("time"),
        "SELECT envelope FROM outbox WHERE event_type = $1 ORDER BY id",
        event_type,
        tenant_id=who.agency_id,
        owner=True,
    )
    events = [json.loads(r["envelope"]) for r in rows]
    matching = [e for e in events if e["data"]["timesheet_id"] == sheet_id]
    assert len(matching) == count, events
    return matching


class TestSubmit:
    async def test_submitting_locks_draft_and_rejected_entries_with_a_trail_and_an_event(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        draft = await seed(time_store, team.member, team.project, MONDAY, 2)
        rejected = await seed(
            time_store, team.member, team.project, MONDAY + timedelta(days=4), 1, status="rejected"
        )
        sheet = await week_of(time_api, team.member)

        response = await act(time_api, team.member, sheet["id"], "submit")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "submitted"
        assert body["submitted_by"] == str(team.member.user_id)
        assert body["submitted_at"] is not None
        assert statuses(body) == ["submitted", "submitted"]
        rows = await entry_rows(time_store, team.member, draft, rejected)
        assert {r["status"] for r in rows.values()} == {"submitted"}
        assert {r["version"] for r in rows.values()} == {2}
        for entry_id, old in ((draft, "draft"), (rejected, "rejected")):
            changes = await trail(time_store, team.member, entry_id)
            assert [(c["action"], c["actor_id"]) for c in changes] == [
                ("submitted", team.member.user_id)
            ]
            assert changes[0]["changes"] == {"status": {"old": old, "new": "submitted"}}
        [event] = await outbox_events(
            time_store, team.member, "time.timesheet.submitted", sheet["id"]
        )
        assert event["data"]["user_id"] == str(team.member.user_id)
        assert event["data"]["week_start"] == "2026-09-07"
        assert (event["data"]["total_seconds"], event["data"]["billable_seconds"]) == (
            3 * HOUR,
            3 * HOUR,
        )

    async def test_submitting_twice_is_a_conflict(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        again = await act(time_api, team.member, sheet["id"], "submit")
        assert_problem(again, 409, "conflict")
        assert again.json()["detail"].startswith("the timesheet for 2026-W37 cannot be submitted")

    async def test_an_empty_week_cannot_be_submitted(
        self, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await week_of(time_api, team.member)
        response = await act(time_api, team.member, sheet["id"], "submit")
        assert_problem(response, 409, "conflict")
        assert (await week_of(time_api, team.member))["status"] == "open"

    async def test_only_the_owner_submits(
        self, tenant: Agency, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await seed(time_store, team.member, team.project, MONDAY, 2)
        sheet = await week_of(time_api, team.member)
        by_manager = await act(time_api, team.manager, sheet["id"], "submit")
        assert_problem(by_manager, 403, "permission-denied")
        colleague = tenant.caller("member")
        by_colleague = await act(time_api, colleague, sheet["id"], "submit")
        assert_problem(by_colleague, 404, "not-found")
        assert (await week_of(time_api, team.member))["status"] == "open"

    async def test_a_timer_still_running_in_the_week_blocks_submitting(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await seed(time_store, team.member, team.project, MONDAY, 2)
        sheet = await week_of(time_api, team.member)
        conn = await time_store.infra.raw(time_store.database("time"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(team.owner.agency_id)
                )
                await conn.execute(
                    "INSERT INTO timers (tenant_id, user_id, id, project_id, is_billable, "
                    "started_at) VALUES ($1, $2, $3, $4, true, $5)",
                    team.owner.agency_id,
                    team.member.user_id,
                    uuid.uuid4(),
                    uuid.UUID(team.project["id"]),
                    datetime(2026, 9, 11, 12, 0, tzinfo=UTC),
                )
        finally:
            await conn.close()
        response = await act(time_api, team.member, sheet["id"], "submit")
        body = assert_problem(response, 409, "conflict")
        assert "timer" in body["detail"]
        assert (await week_of(time_api, team.member))["status"] == "open"

    async def test_submitted_entries_cannot_be_edited_through_the_entries_api(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        entry_id = sheet["entries"][0]["id"]
        response = await time_api.patch(
            f"/v1/time-entries/{entry_id}",
            json={"description": "changed after submitting"},
            headers=team.member.headers,
        )
        if response.status_code in (404, 405) and "route" in response.text:
            pytest.skip("the entries API is not there yet")
        assert_problem(response, 409)
        rows = await entry_rows(time_store, team.member, uuid.UUID(entry_id))
        assert rows[entry_id]["status"] == "submitted"
