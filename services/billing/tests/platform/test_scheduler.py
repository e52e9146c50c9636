"""The overdue and reminder scheduler: the rules on their own, then the running platform's
scheduler (ticking every second in tests) marking invoices overdue and publishing reminders
exactly once — also with a second scheduler process racing it, and after the leader loses its
database connection (which frees the lock)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agencyos.billing.scheduler.service import CATCH_UP_DAYS, Plan, plan_for
from agencyos.billing.settings import BillingSettings
from agencyos.testing.billing import (
    invoice_events,
    invoice_row,
    read_billing_events,
    wait_for_invoice_event,
)
from agencyos.testing.factories import AgencySession, seed_invoice
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import Record
from agencyos.testing.platform import REPO_ROOT, Platform
from agencyos.testing.sql import fetch_rows

OVERDUE = "billing.invoice.overdue"
REMINDER = "billing.invoice.reminder"
LOCK_KEY = BillingSettings().scheduler_lock_key


def today() -> date:
    return datetime.now(UTC).date()


def days(n: int) -> timedelta:
    return timedelta(days=n)


# --- the rules --------------------------------------------------------------------------------


class TestPlan:
    OFFSETS = (-3, 1, 7)

    def plan(self, due_in: int, status: str = "sent", **kwargs: Any) -> Plan:
        now = date(2026, 12, 15)
        fields: dict[str, Any] = {
            "status": status,
            "due_date": now + days(due_in),
            "sent_on": now - days(60),
            "today": now,
            "offsets": self.OFFSETS,
            "already_sent": set(),
            **kwargs,
        }
        return plan_for(**fields)

    def test_nothing_before_the_first_reminder_day(self) -> None:
        assert self.plan(due_in=4) == Plan(False, None)

    def test_the_reminder_before_the_due_date(self) -> None:
        assert self.plan(due_in=3) == Plan(False, -3)

    def test_the_due_date_itself_is_not_overdue_yet(self) -> None:
        assert self.plan(due_in=0) == Plan(False, -3)

    def test_the_day_after_the_due_date_is_overdue_with_its_reminder(self) -> None:
        assert self.plan(due_in=-1) == Plan(True, 1)

    def test_only_the_latest_reminder_that_has_come(self) -> None:
        assert self.plan(due_in=-8) == Plan(True, 7)

    def test_a_reminder_is_not_sent_twice(self) -> None:
        sent = {"reminder:7", "overdue"}
        assert self.plan(due_in=-8, status="overdue", already_sent=sent) == Plan(False, None)

    def test_an_invoice_back_from_paid_is_marked_overdue_again_without_a_second_notice(
        self,
    ) -> None:
        # a refund sent it back to `sent`: the status follows, the notice is not repeated
        assert self.plan(due_in=-8, already_sent={"reminder:7", "overdue"}) == Plan(True, None)

    def test_an_overdue_invoice_already_announced_is_not_announced_again(self) -> None:
        assert self.plan(due_in=-2, status="overdue", already_sent={"overdue"}) == Plan(False, 1)

    def test_a_partially_paid_invoice_goes_overdue_too(self) -> None:
        assert self.plan(due_in=-1, status="partially_paid") == Plan(True, 1)

    def test_a_reminder_long_past_its_day_is_skipped(self) -> None:
        assert self.plan(due_in=-(7 + CATCH_UP_DAYS)) == Plan(True, 7)
        assert self.plan(due_in=-(7 + CATCH_UP_DAYS + 1)) == Plan(True, None)

    def test_no_reminder_on_or_before_the_day_the_invoice_went_out(self) -> None:
        now = date(2026, 12, 15)
        assert self.plan(due_in=3, sent_on=now) == Plan(False, None)
        assert self.plan(due_in=2, sent_on=now - days(2)) == Plan(False, -3)

    @pytest.mark.parametrize("status", ["paid", "void", "draft"])
    def test_closed_invoices_get_nothing(self, status: str) -> None:
        assert self.plan(due_in=-8, status=status) == Plan(False, None)

    def test_no_offsets_no_reminders(self) -> None:
        assert self.plan(due_in=-1, offsets=()) == Plan(True, None)


# --- helpers ----------------------------------------------------------------------------------


async def notices(records: list[Record], invoice_id: uuid.UUID) -> dict[str, list[Any]]:
    return {
        "overdue": [e["data"]["due_date"] for e in invoice_events(records, OVERDUE, invoice_id)],
        "reminders": [
            e["data"]["days_from_due"] for e in invoice_events(records, REMINDER, invoice_id)
        ],
    }


async def settled(platform: Platform, agency: AgencySession) -> list[Record]:
    """Billing's topic after at least two more ticks than any notice seen so far: a sentinel
    invoice that goes overdue now must be announced, and then two more ticks pass."""
    sentinel = await seed_invoice(platform, agency, total_cents=100, due_date=today() - days(1))
    await wait_for_invoice_event(platform, OVERDUE, sentinel, timeout=60)
    await asyncio.sleep(2.5)
    return await wait_for_invoice_event(platform, OVERDUE, sentinel)


async def lock_holders(platform: Platform) -> list[int]:
    """The backends holding the scheduler's advisory lock in billing's database."""
    rows = await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database() "
        "AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1",
        (LOCK_KEY >> 32) & 0xFFFFFFFF,
        LOCK_KEY & 0xFFFFFFFF,
    )
    return [r["pid"] for r in rows]


@asynccontextmanager
async def second_scheduler(platform: Platform) -> AsyncIterator[subprocess.Popen[bytes]]:
    """Another billing process running only its workers (`python -m agencyos.billing
    worker`): a second scheduler replica on the same database. It must stop cleanly."""
    log_path = platform.log_dir / f"billing-worker-{uuid.uuid4().hex[:6]}.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "agencyos.billing", "worker"],
        env=platform.environment(),
        cwd=REPO_ROOT,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:

        async def running() -> bool:
            assert process.poll() is None, log_path.read_text()
            return "scheduler started" in log_path.read_text()

        await wait_for(running, timeout=60, interval=0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 20)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
    assert process.returncode == 0, log_path.read_text()[-3000:]


# --- the running scheduler --------------------------------------------------------------------


class TestOverdueAndReminders:
    async def test_each_open_invoice_gets_its_notices_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        now = today()
        seed = {
            "due_yesterday": {"due_date": now - days(1)},
            "partly_paid_2_days_late": {
                "due_date": now - days(2),
                "status": "partially_paid",
                "amount_paid_cents": 40_000,
            },
            "a_week_late": {"due_date": now - days(8)},
            "long_overdue": {"due_date": now - days(40), "issue_date": now - days(70)},
            "due_in_3_days": {"due_date": now + days(3)},
            "due_in_10_days": {"due_date": now + days(10)},
            "paid_late": {
                "due_date": now - days(1),
                "status": "paid",
                "amount_paid_cents": 100_000,
            },
            "void_late": {"due_date": now - days(1), "status": "void"},
            "draft_late": {"due_date": now - days(1), "status": "draft"},
        }
        ids: dict[str, uuid.UUID] = {}
        for name, fields in seed.items():
            fields.setdefault("issue_date", now - days(30))
            ids[name] = await seed_invoice(platform, agency, total_cents=100_000, **fields)

        def all_announced(records: list[Record]) -> bool:
            late = ("due_yesterday", "partly_paid_2_days_late", "a_week_late", "long_overdue")
            return all(invoice_events(records, OVERDUE, ids[name]) for name in late) and bool(
                invoice_events(records, REMINDER, ids["due_in_3_days"])
            )

        await read_billing_events(platform, all_announced, timeout=60)
        records = await settled(platform, agency)

        expected = {
            "due_yesterday": {"overdue": [str(now - days(1))], "reminders": [1]},
            "partly_paid_2_days_late": {"overdue": [str(now - days(2))], "reminders": [1]},
            "a_week_late": {"overdue": [str(now - days(8))], "reminders": [7]},
            "long_overdue": {"overdue": [str(now - days(40))], "reminders": []},
            "due_in_3_days": {"overdue": [], "reminders": [-3]},
            "due_in_10_days": {"overdue": [], "reminders": []},
            "paid_late": {"overdue": [], "reminders": []},
            "void_late": {"overdue": [], "reminders": []},
            "draft_late": {"overdue": [], "reminders": []},
        }
        assert {name: await notices(records, ids[name]) for name in ids} == expected
        statuses = {
            name: (await invoice_row(platform, agency, ids[name]))["status"] for name in ids
        }
        assert statuses == {
            "due_yesterday": "overdue",
            "partly_paid_2_days_late": "overdue",
            "a_week_late": "overdue",
            "long_overdue": "overdue",
            "due_in_3_days": "sent",
            "due_in_10_days": "sent",
            "paid_late": "paid",
            "void_late": "void",
            "draft_late": "draft",
        }
        [overdue] = invoice_events(records, OVERDUE, ids["partly_paid_2_days_late"])
        assert overdue["tenantid"] == str(agency.agency_id)
        assert overdue["data"]["amount_due_cents"] == 60_000
        assert overdue["data"]["total_cents"] == 100_000
        [reminder] = invoice_events(records, REMINDER, ids["due_in_3_days"])
        assert reminder["data"]["amount_due_cents"] == 100_000
        assert reminder["data"]["due_date"] == str(now + days(3))

    async def test_moving_a_due_date_into_the_past_makes_the_invoice_overdue(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(platform, agency, due_date=today() + days(20))
        conn = await platform.infra.raw(platform.database("billing"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute(
                    "UPDATE invoices SET due_date = $1 WHERE id = $2",
                    today() - days(1),
                    invoice_id,
                )
        finally:
            await conn.close()

        await wait_for_invoice_event(platform, OVERDUE, invoice_id, timeout=60)

        assert (await invoice_row(platform, agency, invoice_id))["status"] == "overdue"

    async def test_the_agencys_own_offsets_are_used(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.put(
            "/v1/billing-settings", json={"reminder_offsets_days": [0, 2]}, headers=agency.headers
        )
        assert response.status_code == 200, response.text
        issued = today() - days(30)
        due_today = await seed_invoice(platform, agency, due_date=today(), issue_date=issued)
        two_days_late = await seed_invoice(
            platform, agency, due_date=today() - days(2), issue_date=issued
        )
        one_day_late = await seed_invoice(
            platform, agency, due_date=today() - days(1), issue_date=issued
        )

        await wait_for_invoice_event(platform, REMINDER, due_today, timeout=60)
        await wait_for_invoice_event(platform, REMINDER, two_days_late, timeout=60)
        records = await settled(platform, agency)

        assert await notices(records, due_today) == {"overdue": [], "reminders": [0]}
        assert await notices(records, two_days_late) == {
            "overdue": [str(today() - days(2))],
            "reminders": [2],
        }
        # its latest reminder day (0) was yesterday: still sent, once
        assert await notices(records, one_day_late) == {
            "overdue": [str(today() - days(1))],
            "reminders": [0],
        }

    async def test_an_invoice_sent_after_its_reminder_day_gets_no_stale_reminder(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # sent today, due in 2 days: the "3 days before" reminder day was yesterday
        invoice_id = await seed_invoice(
            platform, agency, due_date=today() + days(2), issue_date=today()
        )

        records = await settled(platform, agency)

        assert await notices(records, invoice_id) == {"overdue": [], "reminders": []}

    async def test_an_invoice_paid_before_its_due_date_gets_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id = await seed_invoice(
            platform, agency, total_cents=10_000, due_date=today() + days(20)
        )
        response = await gateway.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 10_000, "method": "bank_transfer"},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        conn = await platform.infra.raw(platform.database("billing"), owner=True)
        try:
            async with conn.transaction():
                await conn.execute(
                    "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
                )
                await conn.execute(
                    "UPDATE invoices SET due_date = $1 WHERE id = $2", today() - days(1), invoice_id
                )
        finally:
            await conn.close()

        records = await settled(platform, agency)

        assert await notices(records, invoice_id) == {"overdue": [], "reminders": []}
        assert (await invoice_row(platform, agency, invoice_id))["status"] == "paid"

    async def test_past_due_is_judged_on_the_agencys_own_day(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # 26 hours apart: whatever the hour in UTC, at least one of these agencies' days
        # differs from the UTC day, so judging in UTC gets one of the two wrong
        west, east = "Etc/GMT+12", "Etc/GMT-14"  # UTC-12 and UTC+14 (POSIX signs)
        now = datetime.now(UTC)
        west_today = now.astimezone(ZoneInfo(west)).date()
        east_today = now.astimezone(ZoneInfo(east)).date()
        month_ago = today() - days(30)
        due_today_in_the_west = await seed_invoice(
            platform, agency, due_date=west_today, issue_date=month_ago, timezone=west
        )
        due_yesterday_in_the_east = await seed_invoice(
            platform, agency, due_date=east_today - days(1), issue_date=month_ago, timezone=east
        )

        await wait_for_invoice_event(platform, OVERDUE, due_yesterday_in_the_east, timeout=60)
        records = await settled(platform, agency)

        assert (await notices(records, due_today_in_the_west))["overdue"] == []
        assert (await invoice_row(platform, agency, due_today_in_the_west))["status"] == "sent"
        assert (await invoice_row(platform, agency, due_yesterday_in_the_east))[
            "status"
        ] == "overdue"


class TestOneActiveScheduler:
    async def test_one_scheduler_holds_the_lock_and_notices_go_out_once_with_two_running(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        async with second_scheduler(platform):
            await asyncio.sleep(2)  # the newcomer has tried to take the lock by now
            assert len(await lock_holders(platform)) == 1

            late = [
                await seed_invoice(
                    platform, agency, due_date=today() - days(n), issue_date=today() - days(30)
                )
                for n in (1, 2, 8, 1, 1)
            ]
            for invoice_id in late:
                await wait_for_invoice_event(platform, OVERDUE, invoice_id, timeout=60)
            records = await settled(platform, agency)

            for invoice_id in late:
                assert len(invoice_events(records, OVERDUE, invoice_id)) == 1
                assert len(invoice_events(records, REMINDER, invoice_id)) == 1

    async def test_a_leader_that_loses_its_connection_loses_the_lock_and_ticks_go_on(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        async with second_scheduler(platform):
            [leader] = await wait_for(lambda: lock_holders(platform), timeout=30)

            # the leader's connection dies (a network cut, a database failover)
            await fetch_rows(
                platform.infra,
                platform.database("billing"),
                "SELECT pg_terminate_backend($1)",
                leader,
            )

            async def new_leader() -> list[int]:
                holders = await lock_holders(platform)
                return holders if holders and holders != [leader] else []

            [successor] = await wait_for(new_leader, timeout=30)
            assert successor != leader
            invoice_id = await seed_invoice(platform, agency, due_date=today() - days(1))
            await wait_for_invoice_event(platform, OVERDUE, invoice_id, timeout=60)
            records = await settled(platform, agency)
            assert len(invoice_events(records, OVERDUE, invoice_id)) == 1
            assert len(await lock_holders(platform)) == 1
