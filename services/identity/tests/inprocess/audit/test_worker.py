"""The audit worker: each `audit.recorded` event appended once to its agency's hash chain,
with the actor context its envelope carries; the table append-only for the application role."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from agencyos.testing.audit import GENESIS, AuditWriter, assert_chain, audit_event
from agencyos.testing.factories import AgencySession
from agencyos.testing.inprocess import ServiceInProcess

Records = Callable[[uuid.UUID], Awaitable[list[asyncpg.Record]]]
Append = Callable[..., Awaitable[list[Any]]]


class TestAppending:
    async def test_records_form_a_chain_an_auditor_can_recompute(
        self, agency: AgencySession, append: Append, records: Records
    ) -> None:
        await append(agency.agency_id, 3)

        rows = await records(agency.agency_id)

        assert [r["seq"] for r in rows] == [1, 2, 3]
        assert rows[0]["prev_hash"] == GENESIS
        assert assert_chain(rows) == 3

    async def test_the_record_keeps_the_event_and_the_actor_context_of_its_envelope(
        self, agency: AgencySession, writer: AuditWriter, records: Records
    ) -> None:
        occurred = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=UTC)
        event = audit_event(
            agency.agency_id,
            action="member.role_changed",
            entity_type="member",
            entity_id="m-1",
            actor_id="u-1",
            actor_label="ada@example.com",
            changes={"role": ("member", "admin")},
            detail={"reason": "promotion", "count": 2},
            source_service="identity",
            ip="198.51.100.23",
            user_agent="Mozilla/5.0 (X11)",
            request_id="req-123",
            time=occurred,
        )

        assert await writer.deliver(event) == "ok"

        (row,) = await records(agency.agency_id)
        assert row["event_id"] == event.id
        assert row["occurred_at"] == occurred
        assert (row["action"], row["entity_type"], row["entity_id"]) == (
            "member.role_changed",
            "member",
            "m-1",
        )
        assert (row["actor_type"], row["actor_id"], row["actor_label"]) == (
            "user",
            "u-1",
            "ada@example.com",
        )
        assert (row["ip"], row["user_agent"], row["request_id"]) == (
            "198.51.100.23",
            "Mozilla/5.0 (X11)",
            "req-123",
        )
        assert row["source_service"] == "identity"
        assert '"before": "member"' in row["changes"]
        assert '"after": "admin"' in row["changes"]

    async def test_an_event_without_actor_context_is_recorded_with_none(
        self, agency: AgencySession, append: Append, records: Records
    ) -> None:
        await append(agency.agency_id, ip=None, user_agent=None, request_id=None)

        (row,) = await records(agency.agency_id)
        assert (row["ip"], row["user_agent"], row["request_id"]) == (None, None, None)

    async def test_a_long_user_agent_is_cut_to_512_characters(
        self, agency: AgencySession, append: Append, records: Records
    ) -> None:
        await append(agency.agency_id, user_agent="A" * 5000)

        (row,) = await records(agency.agency_id)
        assert row["user_agent"] == "A" * 512

    async def test_numbers_in_detail_still_verify_after_jsonb_respells_them(
        self, agency: AgencySession, append: Append, records: Records
    ) -> None:
        await append(agency.agency_id, detail={"big": 1e20, "price": 1.10, "n": 3})

        assert assert_chain(await records(agency.agency_id)) == 1

    async def test_each_agency_has_a_chain_of_its_own(
        self,
        agency: AgencySession,
        other_agency: AgencySession,
        append: Append,
        records: Records,
    ) -> None:
        await append(agency.agency_id, 2)
        await append(other_agency.agency_id, 1)
        await append(agency.agency_id, 1)

        assert [r["seq"] for r in await records(agency.agency_id)] == [1, 2, 3]
        assert [r["seq"] for r in await records(other_agency.agency_id)] == [1]
        assert_chain(await records(agency.agency_id))
        assert_chain(await records(other_agency.agency_id))


class TestRedelivery:
    async def test_a_redelivered_event_is_appended_once(
        self, agency: AgencySession, writer: AuditWriter, records: Records
    ) -> None:
        event = audit_event(agency.agency_id)

        assert await writer.deliver(event) == "ok"
        assert await writer.deliver(event) == "duplicate"

        assert len(await records(agency.agency_id)) == 1

    async def test_an_event_delivered_past_the_inbox_is_still_appended_once(
        self, agency: AgencySession, identity_service: ServiceInProcess, records: Records
    ) -> None:
        # Two consumers (e.g. a group renamed) share no inbox: the record's event id decides.
        event = audit_event(agency.agency_id)

        assert await AuditWriter(identity_service).deliver(event) == "ok"
        second = AuditWriter(identity_service)
        second.runner.consumer_name = "identity-audit-renamed"
        assert await second.deliver(event) == "ok"

        rows = await records(agency.agency_id)
        assert len(rows) == 1
        assert_chain(rows)


class TestConcurrentWriters:
    async def test_concurrent_appends_keep_one_gapless_chain(
        self, agency: AgencySession, identity_service: ServiceInProcess, records: Records
    ) -> None:
        # Separate runners, one transaction each, all at once: the head row's lock orders them.
        writers = [AuditWriter(identity_service) for _ in range(4)]
        events = [audit_event(agency.agency_id, detail={"i": i}) for i in range(24)]

        outcomes = await asyncio.gather(
            *(writers[i % 4].deliver(event) for i, event in enumerate(events))
        )

        assert outcomes == ["ok"] * 24
        rows = await records(agency.agency_id)
        assert assert_chain(rows) == 24
        assert {r["event_id"] for r in rows} == {e.id for e in events}


class TestAppendOnly:
    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE audit_records SET action = 'nothing.happened'",
            "DELETE FROM audit_records",
            "TRUNCATE audit_records",
        ],
        ids=["update", "delete", "truncate"],
    )
    async def test_the_application_role_cannot_change_or_remove_records(
        self,
        agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
        records: Records,
        statement: str,
    ) -> None:
        await append(agency.agency_id, 2)
        conn = await identity_service.infra.raw(identity_service.database)  # the app role
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await conn.execute(statement)
        finally:
            await conn.close()

        assert assert_chain(await records(agency.agency_id)) == 2

    async def test_the_application_role_may_read_and_insert(
        self, identity_service: ServiceInProcess
    ) -> None:
        conn = await identity_service.infra.raw(identity_service.database)
        try:
            granted = await conn.fetchval(
                "SELECT array_agg(privilege_type ORDER BY privilege_type) "
                "FROM information_schema.role_table_grants "
                "WHERE table_name = 'audit_records' AND grantee = current_user"
            )
        finally:
            await conn.close()

        assert granted == ["INSERT", "SELECT"]

    async def test_another_agencys_records_are_invisible_to_the_app_role(
        self,
        agency: AgencySession,
        other_agency: AgencySession,
        append: Append,
        identity_service: ServiceInProcess,
    ) -> None:
        await append(agency.agency_id, 2)
        conn = await identity_service.infra.raw(identity_service.database)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(other_agency.agency_id)
                )
                seen = await conn.fetchval("SELECT count(*) FROM audit_records")
        finally:
            await conn.close()

        assert seen == 0


class TestRegistration:
    async def test_identity_runs_the_audit_worker_on_the_audit_topic(
        self, identity_service: ServiceInProcess
    ) -> None:
        from agencyos.common.consumer import ConsumerRunner
        from agencyos.identity.__main__ import DEFINITION

        worker = DEFINITION.workers["audit"](identity_service.ctx)

        assert isinstance(worker, ConsumerRunner)
        assert worker.consumer_name == "identity-audit"
        assert worker.subscription.topics == ["audit.events"]
        assert set(worker.subscription.handlers) == {"audit.recorded"}
