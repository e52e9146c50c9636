"""time records its money-relevant actions in the agency's audit log (an `audit.recorded`
event in its outbox, in the action's transaction): rates added (with the amount they
supersede) and deleted, timesheets approved (time released to billing) and rejected, and
exports of time entries."""

from __future__ import annotations

from datetime import timedelta

import httpx

from agencyos.testing.audit_records import AuditRecord, audit_records
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess
from agencyos.testing.platform import Platform
from agencyos.testing.rates import create_rate, rate_fields
from agencyos.testing.time_entries import Team
from agencyos.testing.timesheets import HOUR, MONDAY, act, seed, submitted_sheet


async def only(time_db: ServiceInProcess, action: str, who: Caller) -> AuditRecord:
    records = await audit_records(time_db, action=action, tenant_id=who.agency_id)
    assert len(records) == 1, [r.action for r in records]
    record = records[0]
    assert record.source_service == "time"
    return record


def by(record: AuditRecord, who: Caller) -> bool:
    return (record.actor_type, record.actor_id) == ("user", str(who.user_id))


class TestRates:
    async def test_a_new_rate_is_recorded_with_the_amount_it_supersedes(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, agency: Caller
    ) -> None:
        first = await create_rate(time_api, agency, **rate_fields("agency", 10_000, "2026-01-01"))
        second = await create_rate(time_api, agency, **rate_fields("agency", 12_500, "2026-06-01"))

        records = await audit_records(time_db, action="rate.created", tenant_id=agency.agency_id)

        assert [r.entity_id for r in records] == [first["id"], second["id"]]
        assert all(by(r, agency) and r.entity_type == "rate" for r in records)
        assert records[0].changes == {
            "hourly_rate_cents": {"before": None, "after": 10_000},
            "effective_from": {"before": None, "after": "2026-01-01"},
        }
        assert records[1].changes["hourly_rate_cents"] == {"before": 10_000, "after": 12_500}
        assert records[1].detail["supersedes_rate_id"] == first["id"]
        assert records[1].detail["kind"] == "billable"
        assert records[1].detail["scope"] == "agency"

    async def test_deleting_a_rate_not_yet_in_effect_is_recorded_with_its_amount(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, agency: Caller
    ) -> None:
        future = await create_rate(time_api, agency, **rate_fields("agency", 9_900, "2099-01-01"))

        response = await time_api.delete(f"/v1/rates/{future['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        record = await only(time_db, "rate.deleted", agency)
        assert by(record, agency)
        assert record.entity_id == future["id"]
        assert record.before == {"hourly_rate_cents": 9_900, "effective_from": "2099-01-01"}
        assert record.after == {"hourly_rate_cents": None, "effective_from": None}

    async def test_a_refused_deletion_records_nothing(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, agency: Caller
    ) -> None:
        in_effect = await create_rate(
            time_api, agency, **rate_fields("agency", 9_900, "2026-01-01")
        )

        response = await time_api.delete(f"/v1/rates/{in_effect['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")
        assert await audit_records(time_db, action="rate.deleted") == []

    async def test_a_refused_rate_records_nothing(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, tenant: Agency
    ) -> None:
        member = tenant.caller("member")

        response = await time_api.post(
            "/v1/rates", json=rate_fields("agency", 1, "2026-01-01"), headers=member.headers
        )

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(time_db) == []


class TestTimesheets:
    async def test_approving_is_recorded_with_the_time_and_money_it_releases(
        self,
        time_api: httpx.AsyncClient,
        time_db: ServiceInProcess,
        time_store: Platform,
        team: Team,
    ) -> None:
        await create_rate(time_api, team.owner, **rate_fields("agency", 15_000, "2026-01-01"))
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)

        response = await act(time_api, team.manager, sheet["id"], "approve")

        assert response.status_code == 200, response.text
        record = await only(time_db, "timesheet.approved", team.owner)
        assert by(record, team.manager)
        assert (record.entity_type, record.entity_id) == ("timesheet", sheet["id"])
        assert record.changes == {"status": {"before": "submitted", "after": "approved"}}
        assert record.detail["user_id"] == str(team.member.user_id)
        assert record.detail["entries"] == 2
        assert (record.detail["total_seconds"], record.detail["billable_seconds"]) == (
            5 * HOUR,
            2 * HOUR,
        )
        # 2 billable hours at the agency's rate, frozen by the approval.
        assert record.detail["billable_amount_cents"] == 2 * 15_000

    async def test_rejecting_is_recorded_with_the_reason(
        self,
        time_api: httpx.AsyncClient,
        time_db: ServiceInProcess,
        time_store: Platform,
        team: Team,
    ) -> None:
        sheet = await submitted_sheet(time_store, time_api, team.member, team.project)

        response = await act(
            time_api, team.manager, sheet["id"], "reject", {"reason": "Tuesday is missing"}
        )

        assert response.status_code == 200, response.text
        record = await only(time_db, "timesheet.rejected", team.owner)
        assert by(record, team.manager)
        assert record.changes == {"status": {"before": "submitted", "after": "rejected"}}
        assert record.detail["reason"] == "Tuesday is missing"

    async def test_approving_ones_own_week_is_refused_and_records_nothing(
        self,
        time_api: httpx.AsyncClient,
        time_db: ServiceInProcess,
        time_store: Platform,
        team: Team,
    ) -> None:
        await seed(time_store, team.manager, team.project, MONDAY + timedelta(days=2), 1)
        week = await time_api.get(
            "/v1/timesheets", params={"week": "2026-W37"}, headers=team.manager.headers
        )
        sheet = week.json()
        assert (await act(time_api, team.manager, sheet["id"], "submit")).status_code == 200

        response = await act(time_api, team.manager, sheet["id"], "approve")

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(time_db, action="timesheet.approved") == []


class TestExport:
    async def test_an_export_is_recorded_with_its_filters(
        self,
        time_api: httpx.AsyncClient,
        time_db: ServiceInProcess,
        time_store: Platform,
        team: Team,
    ) -> None:
        await seed(time_store, team.member, team.project, MONDAY, 1)

        response = await time_api.get(
            "/v1/time-entries/export",
            params={"project_id": team.project["id"], "date_from": "2026-09-01"},
            headers=team.owner.headers,
        )

        assert response.status_code == 200, response.text
        assert response.text.count("\n") == 2  # the header and the entry
        record = await only(time_db, "time_entries.exported", team.owner)
        assert by(record, team.owner)
        assert record.entity_type == "time_entry"
        assert record.detail == {
            "format": "csv",
            "filters": {"project_id": team.project["id"], "date_from": "2026-09-01"},
            "sort": "-date",
        }

    async def test_a_members_export_records_the_scope_it_was_narrowed_to(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, team: Team
    ) -> None:
        response = await time_api.get("/v1/time-entries/export", headers=team.member.headers)

        assert response.status_code == 200, response.text
        record = await only(time_db, "time_entries.exported", team.owner)
        assert by(record, team.member)
        assert record.detail["filters"] == {"user_id": str(team.member.user_id)}

    async def test_a_refused_export_records_nothing(
        self, time_api: httpx.AsyncClient, time_db: ServiceInProcess, team: Team
    ) -> None:
        response = await time_api.get(
            "/v1/time-entries/export",
            params={"user_id": str(team.owner.user_id)},
            headers=team.member.headers,
        )

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(time_db) == []
