"""Approving and rejecting weekly timesheets (`timesheet/service.py`, `timesheet/pricing.py`):
approve freezes rates and currency, reject (with a reason) sends the entries back, each with
its audit trail and its event in the outbox; who may do what (managers not their own week),
racing approvers deciding once, and decided weeks staying decided."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows
from agencyos.testing.timesheets import (
    HOUR,
    MONDAY,
    Team,
    act,
    entry_rows,
    seed,
    seed_rate,
    statuses,
    submitted_sheet,
    trail,
    week_of,
)


def new_project(
    in_process: InProcess, agency: Agency, *members: Caller, **fields: Any
) -> dict[str, Any]:
    """A project of `agency` on the work stand-in, with `members` and its owner (the creator
    is a member, as in work), shaped like work's API answer (`id`, `currency`)."""
    project_id = in_process.standins.work.add_project(
        agency.id, agency.owner.user_id, *(m.user_id for m in members), **fields
    )
    project = in_process.standins.work.projects[(agency.id, project_id)]
    return {"id": project.id, "currency": project.currency}


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


class TestApprove:
    async def test_approving_freezes_rates_and_currency_and_writes_an_event(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
    ) -> None:
        # the project's own rate in work (12000) is the fallback; a time rate for the second
        # project and the member's cost rate apply from before the week
        gbp = new_project(in_process, tenant, team.member, currency="GBP")
        await seed_rate(
            time_store,
            team.owner,
            kind="billable",
            scope="project",
            project_id=gbp["id"],
            cents=9_000,
            effective_from=date(2026, 1, 1),
        )
        await seed_rate(
            time_store,
            team.owner,
            kind="cost",
            scope="member",
            user_id=team.member.user_id,
            cents=4_000,
            effective_from=date(2026, 1, 1),
        )
        # takes effect after the first entry's day: the second entry gets it
        await seed_rate(
            time_store,
            team.owner,
            kind="cost",
            scope="member",
            user_id=team.member.user_id,
            cents=5_000,
            effective_from=MONDAY + timedelta(days=1),
        )
        first = await seed(time_store, team.member, team.project, MONDAY, 2)
        second = await seed(
            time_store, team.member, gbp, MONDAY + timedelta(days=1), 3, is_billable=False
        )
        sheet = await week_of(time_api, team.member)
        assert (await act(time_api, team.member, sheet["id"], "submit")).status_code == 200

        response = await act(time_api, team.manager, sheet["id"], "approve")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "approved"
        assert body["decided_by"] == str(team.manager.user_id)
        assert statuses(body) == ["approved", "approved"]
        rows = await entry_rows(time_store, team.member, first, second)
        assert (
            rows[str(first)]["billable_rate_cents"],
            rows[str(first)]["cost_rate_cents"],
            rows[str(first)]["currency"],
        ) == (12_000, 4_000, team.project["currency"])
        assert (
            rows[str(second)]["billable_rate_cents"],
            rows[str(second)]["cost_rate_cents"],
            rows[str(second)]["currency"],
        ) == (9_000, 5_000, "GBP")
        changes = await trail(time_store, team.member, first)
        assert [c["action"] for c in changes] == ["submitted", "approved"]
        assert changes[1]["actor_id"] == team.manager.user_id
        assert changes[1]["changes"]["status"] == {"old": "submitted", "new": "approved"}
        assert changes[1]["changes"]["billable_rate_cents"] == {"old": None, "new": 12_000}

        [event] = await outbox_events(
            time_store, team.member, "time.timesheet.approved", sheet["id"]
        )
        assert sorted(event["data"]["entry_ids"]) == sorted([str(first), str(second)])
        assert event["data"]["approved_by"] == str(team.manager.user_id)
        assert (event["data"]["total_seconds"], event["data"]["billable_seconds"]) == (
            5 * HOUR,
            2 * HOUR,
        )

        # a new rate from the week's Monday on changes nothing approved
        await seed_rate(
            time_store,
            team.owner,
            kind="billable",
            scope="project",
            project_id=gbp["id"],
            cents=20_000,
            effective_from=MONDAY,
        )
        after = await week_of(time_api, team.member)
        assert {e["id"]: e["billable_rate_cents"] for e in after["entries"]} == {
            str(first): 12_000,
            str(second): 9_000,
        }

    async def test_a_member_cannot_approve(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.manager, team.project)
        response = await act(time_api, team.member, sheet["id"], "approve")
        assert_problem(response, 403, "permission-denied")
        rejected = await act(time_api, team.member, sheet["id"], "reject", {"reason": "no"})
        assert_problem(rejected, 403, "permission-denied")
        assert (await week_of(time_api, team.manager))["status"] == "submitted"

    async def test_a_manager_cannot_decide_on_their_own_timesheet(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.manager, team.project)
        approve = await act(time_api, team.manager, sheet["id"], "approve")
        assert_problem(approve, 403, "permission-denied")
        reject = await act(time_api, team.manager, sheet["id"], "reject", {"reason": "mine"})
        assert_problem(reject, 403, "permission-denied")
        assert (await week_of(time_api, team.manager))["status"] == "submitted"

    @pytest.mark.parametrize("role", ["owner", "admin"])
    async def test_owners_and_admins_may_approve_their_own(
        self,
        in_process: InProcess,
        tenant: Agency,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
        role: str,
    ) -> None:
        who = team.owner if role == "owner" else tenant.caller("admin")
        project = new_project(in_process, tenant, who)
        sheet = await submitted_sheet(time_store, time_api, who, project)
        response = await act(time_api, who, sheet["id"], "approve")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "approved"

    async def test_approving_twice_is_a_conflict(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        assert (await act(time_api, team.manager, sheet["id"], "approve")).status_code == 200
        again = await act(time_api, team.owner, sheet["id"], "approve")
        assert assert_problem(again, 409, "conflict")["timesheet_status"] == "approved"
        reject = await act(time_api, team.owner, sheet["id"], "reject", {"reason": "too late"})
        assert_problem(reject, 409, "conflict")
        resubmit = await act(time_api, team.member, sheet["id"], "submit")
        assert_problem(resubmit, 409, "conflict")

    async def test_two_approvers_at_once_approve_exactly_once(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        responses = await asyncio.gather(
            act(time_api, team.manager, sheet["id"], "approve"),
            act(time_api, team.owner, sheet["id"], "approve"),
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        entry_id = uuid.UUID(sheet["entries"][0]["id"])
        assert [c["action"] for c in await trail(time_store, team.member, entry_id)] == [
            "submitted",
            "approved",
        ]

    async def test_an_open_timesheet_cannot_be_approved(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        await seed(time_store, team.member, team.project, MONDAY, 2)
        sheet = await week_of(time_api, team.member)
        response = await act(time_api, team.manager, sheet["id"], "approve")
        assert assert_problem(response, 409, "conflict")["timesheet_status"] == "open"
        assert statuses(await week_of(time_api, team.member)) == ["draft"]

    async def test_an_approver_cannot_edit_the_entries(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        entry_id = sheet["entries"][0]["id"]
        response = await time_api.patch(
            f"/v1/time-entries/{entry_id}",
            json={"description": "the manager's version"},
            headers=team.manager.headers,
        )
        if response.status_code in (404, 405) and "route" in response.text:
            pytest.skip("the entries API is not there yet")
        assert response.status_code in (403, 404, 409), response.text
        rows = await fetch_rows(
            time_store.infra,
            time_store.database("time"),
            "SELECT description FROM time_entries WHERE id = $1",
            uuid.UUID(entry_id),
            tenant_id=team.owner.agency_id,
            owner=True,
        )
        assert rows[0]["description"] == ""


class TestReject:
    async def test_rejecting_returns_the_entries_and_the_owner_resubmits(
        self, time_store: Platform, time_api: httpx.AsyncClient, team: Team
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)

        response = await act(
            time_api, team.manager, sheet["id"], "reject", {"reason": "  Tuesday is missing  "}
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["rejection_reason"]) == ("rejected", "Tuesday is missing")
        assert body["decided_by"] == str(team.manager.user_id)
        assert statuses(body) == ["rejected", "rejected"]
        [event] = await outbox_events(
            time_store, team.member, "time.timesheet.rejected", sheet["id"]
        )
        assert event["data"]["reason"] == "Tuesday is missing"
        assert event["data"]["rejected_by"] == str(team.manager.user_id)
        entry_id = uuid.UUID(sheet["entries"][0]["id"])
        assert [c["action"] for c in await trail(time_store, team.member, entry_id)] == [
            "submitted",
            "rejected",
        ]
        again = await act(time_api, team.manager, sheet["id"], "approve")
        assert assert_problem(again, 409, "conflict")["timesheet_status"] == "rejected"

        # the owner adds the missing day and submits again; the last decision is cleared
        await seed(time_store, team.member, team.project, MONDAY + timedelta(days=1), 4)
        resubmitted = await act(time_api, team.member, sheet["id"], "submit")
        assert resubmitted.status_code == 200, resubmitted.text
        assert resubmitted.json()["rejection_reason"] is None
        assert statuses(resubmitted.json()) == ["submitted"] * 3
        approved = await act(time_api, team.manager, sheet["id"], "approve")
        assert approved.status_code == 200, approved.text
        assert statuses(approved.json()) == ["approved"] * 3
        await outbox_events(time_store, team.member, "time.timesheet.submitted", sheet["id"], 2)

    @pytest.mark.parametrize("body", [None, {}, {"reason": ""}, {"reason": "   "}])
    async def test_a_rejection_needs_a_reason(
        self,
        time_store: Platform,
        time_api: httpx.AsyncClient,
        team: Team,
        body: dict[str, Any] | None,
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)
        response = await act(time_api, team.manager, sheet["id"], "reject", body)
        assert_problem(response, 422, "invalid-input")
        assert (await week_of(time_api, team.member))["status"] == "submitted"
