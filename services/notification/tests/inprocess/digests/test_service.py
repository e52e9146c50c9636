"""The digests at each agency's local hour: the daily list of a person's open tasks due
tomorrow or overdue, Monday's weekly email; once per person and period whatever runs them
(two workers at once, ticks again, a worker back after downtime)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx

from agencyos.common.events import AgencyCreated, CloudEvent, TaskCreated
from agencyos.notification.digests.service import DigestService, TickResult
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import (
    deliver,
    event_of,
    join,
    notices_of,
    project_created,
    seed,
    suspended,
)

TUESDAY = date(2026, 12, 8)
MONDAY = date(2026, 12, 7)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def agency_created(agency: Agency, zone: str) -> CloudEvent:
    return event_of(
        AgencyCreated(
            agency_id=agency.id,
            slug=f"a-{agency.id.hex[:8]}",
            name=f"Studio {zone}",
            owner_user_id=agency.owner.user_id,
            currency="EUR",
            timezone=zone,
        ),
        agency.id,
    )


def task(
    agency: Agency,
    project_id: uuid.UUID,
    title: str,
    due: date | None,
    *assignees: Caller,
    status: str = "todo",
) -> CloudEvent:
    return event_of(
        TaskCreated(
            task_id=uuid.uuid4(),
            project_id=project_id,
            title=title,
            status=status,
            column_id=uuid.uuid4(),
            assignee_ids=[a.user_id for a in assignees],
            visible_to_client=False,
            task_version=1,
            actor_id=None,
            due_date=due,
        ),
        agency.id,
    )


async def tick(in_process: InProcess, now: datetime) -> TickResult:
    service = await in_process.service("notification")
    return await DigestService(service.ctx.database(), hour=8).tick(now)


async def emails_to(in_process: InProcess, who: Caller, template: str) -> list[dict[str, Any]]:
    service = await in_process.service("notification")
    found = await service.rows(
        "SELECT * FROM email_deliveries WHERE user_id = $1 AND template = $2",
        who.user_id,
        template,
        tenant_id=who.agency_id,
    )
    return [dict(r) for r in found]


async def studio(in_process: InProcess, agency: Agency, zone: str) -> tuple[Caller, uuid.UUID]:
    """An agency in `zone` with a member on one project; the member and the project."""
    await deliver(in_process, agency_created(agency, zone))
    await seed(in_process, agency.owner)
    member = await join(in_process, agency, "member", name="Ada Lovelace")
    created = project_created(agency, member, name="Website")
    await deliver(in_process, created)
    return member, uuid.UUID(created.data["project_id"])


class TestDailyDigest:
    async def test_at_eight_a_person_gets_their_overdue_and_due_tomorrow_tasks_only(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        colleague = await join(in_process, tenant, "member")
        hidden = project_created(tenant, colleague, name="Not theirs")
        hidden_id = uuid.UUID(hidden.data["project_id"])
        late = task(tenant, project_id, "Late one", date(2026, 12, 7), member)
        soon = task(tenant, project_id, "Tomorrow's", date(2026, 12, 9), member)
        await deliver(
            in_process,
            hidden,
            late,
            soon,
            task(tenant, project_id, "Due today", TUESDAY, member),
            task(tenant, project_id, "Later", date(2026, 12, 10), member),
            task(tenant, project_id, "Done late", date(2026, 12, 1), member, status="done"),
            task(tenant, project_id, "Someone else's", date(2026, 12, 7), colleague),
            task(tenant, project_id, "No date", None, member),
            task(tenant, hidden_id, "Project they left", date(2026, 12, 7), member),
        )

        result = await tick(in_process, utc(TUESDAY, 7))

        [note] = await notices_of(in_process, member, "tasks.due")
        assert note["title"] == "2 tasks need you: 1 overdue, 1 due tomorrow"
        assert json.loads(note["data"]) == {
            "overdue": [late.data["task_id"]],
            "due_tomorrow": [soon.data["task_id"]],
            "day": "2026-12-08",
        }
        # tasks.due is in-app only by default
        assert await emails_to(in_process, member, "due_digest") == []
        # the colleague's late task is in a project they are not on: nothing for them
        assert result.daily == 1

    async def test_an_agency_whose_zone_is_not_known_yet_gets_it_at_eight_utc(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        await seed(in_process, tenant.owner)
        member = await join(in_process, tenant, "member")
        created = project_created(tenant, member)
        project_id = uuid.UUID(created.data["project_id"])
        await deliver(in_process, created, task(tenant, project_id, "Late", MONDAY, member))

        at_seven = await tick(in_process, utc(TUESDAY, 7))
        at_eight = await tick(in_process, utc(TUESDAY, 8))

        assert (at_seven.daily, at_eight.daily) == (0, 1)

    async def test_before_the_agencys_hour_nothing_is_sent(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(in_process, task(tenant, project_id, "Late", date(2026, 12, 7), member))

        await tick(in_process, utc(TUESDAY, 6, 59))

        assert await notices_of(in_process, member, "tasks.due") == []

    async def test_each_agency_gets_its_digest_at_its_own_local_hour(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        berliner, berlin_project = await studio(in_process, tenant, "Europe/Berlin")
        new_yorker, ny_project = await studio(in_process, other_tenant, "America/New_York")
        await deliver(
            in_process,
            task(tenant, berlin_project, "Late", date(2026, 12, 7), berliner),
            task(other_tenant, ny_project, "Late", date(2026, 12, 7), new_yorker),
        )

        await tick(in_process, utc(TUESDAY, 7))
        berlin_first = len(await notices_of(in_process, berliner, "tasks.due"))
        ny_first = len(await notices_of(in_process, new_yorker, "tasks.due"))
        await tick(in_process, utc(TUESDAY, 13))

        assert (berlin_first, ny_first) == (1, 0)
        assert len(await notices_of(in_process, berliner, "tasks.due")) == 1
        assert len(await notices_of(in_process, new_yorker, "tasks.due")) == 1

    async def test_ticks_again_and_two_workers_at_once_send_it_once(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(in_process, task(tenant, project_id, "Late", date(2026, 12, 7), member))

        results = await asyncio.gather(
            tick(in_process, utc(TUESDAY, 7)), tick(in_process, utc(TUESDAY, 7, 1))
        )
        again = await tick(in_process, utc(TUESDAY, 9))

        assert sum(r.daily for r in results) == 1
        assert again.daily == 0
        assert len(await notices_of(in_process, member, "tasks.due")) == 1

    async def test_a_worker_back_after_downtime_sends_that_days_digest_later_that_day_only(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(in_process, task(tenant, project_id, "Late", date(2026, 12, 1), member))

        await tick(in_process, utc(TUESDAY, 21))  # 22:00 in Berlin
        sent_late = len(await notices_of(in_process, member, "tasks.due"))
        await tick(in_process, utc(date(2026, 12, 9), 6))  # 07:00 next day: not yet

        assert sent_late == 1
        assert len(await notices_of(in_process, member, "tasks.due")) == 1

    async def test_a_person_with_nothing_due_gets_nothing(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(in_process, task(tenant, project_id, "Later", date(2026, 12, 20), member))

        result = await tick(in_process, utc(TUESDAY, 7))

        assert result.daily == 0
        assert await notices_of(in_process, member) == []

    async def test_a_suspended_member_gets_no_digest(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(
            in_process,
            task(tenant, project_id, "Late", date(2026, 12, 7), member),
            suspended(member),
        )

        await tick(in_process, utc(TUESDAY, 7))

        assert await notices_of(in_process, member) == []

    async def test_a_person_who_wants_it_by_email_gets_the_due_digest_email(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        service = await in_process.service("notification")
        await service.rows(
            "INSERT INTO notification_preferences (tenant_id, user_id, kind, channel, enabled) "
            "VALUES ($1, $2, 'tasks.due', 'email', true)",
            tenant.id,
            member.user_id,
            tenant_id=tenant.id,
        )
        await deliver(in_process, task(tenant, project_id, "Late one", date(2026, 12, 7), member))

        await tick(in_process, utc(TUESDAY, 7))
        await tick(in_process, utc(TUESDAY, 8))

        [email] = await emails_to(in_process, member, "due_digest")
        assert email["kind"] == "tasks.due"
        assert "Late one" in email["text"]
        assert "Studio Europe/Berlin" in email["html"]
        assert email["unsubscribe_url"]


class TestWeeklyDigest:
    async def test_on_monday_at_eight_each_person_gets_the_weekly_email_once(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(
            in_process, task(tenant, project_id, "Launch copy", date(2026, 12, 11), member)
        )
        service = await in_process.service("notification")
        await service.rows(
            "INSERT INTO notifications (tenant_id, id, user_id, kind, title, source_event_id) "
            "VALUES ($1, $2, $3, 'task.assigned', 'Mona assigned you Launch copy', $4)",
            tenant.id,
            uuid.uuid4(),
            member.user_id,
            uuid.uuid4(),
            tenant_id=tenant.id,
        )

        first = await tick(in_process, utc(MONDAY, 7))
        again = await tick(in_process, utc(MONDAY, 12))

        assert (first.weekly, again.weekly) == (1, 0)
        [email] = await emails_to(in_process, member, "weekly_digest")
        assert email["kind"] == "digest.weekly"
        assert "Mona assigned you Launch copy" in email["text"]
        assert "Launch copy" in email["text"]
        # digest.weekly is an email only: no in-app row for it
        assert await notices_of(in_process, member, "digest.weekly") == []

    async def test_no_weekly_digest_on_other_days_or_before_the_hour(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, project_id = await studio(in_process, tenant, "Europe/Berlin")
        await deliver(
            in_process, task(tenant, project_id, "Launch copy", date(2026, 12, 11), member)
        )

        before = await tick(in_process, utc(MONDAY, 6, 59))
        tuesday = await tick(in_process, utc(TUESDAY, 7))

        assert (before.weekly, tuesday.weekly) == (0, 0)
        assert await emails_to(in_process, member, "weekly_digest") == []

    async def test_a_quiet_week_sends_nothing(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        member, _ = await studio(in_process, tenant, "Europe/Berlin")

        result = await tick(in_process, utc(MONDAY, 7))

        assert result.weekly == 0
        assert await emails_to(in_process, member, "weekly_digest") == []
