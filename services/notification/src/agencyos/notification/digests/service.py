"""What the digest worker does on each tick: per agency, at `hour` o'clock in the agency's
time zone, the daily digest of each person's open tasks due tomorrow or overdue
(`tasks.due`), and on Mondays the weekly digest email (`digest.weekly`: the last seven days'
notices, the tasks due in the next seven, the unread count).

Exactly once: each digest is claimed (`digest_runs`, unique per agency, person, kind and
period) in the transaction that writes it, so two workers, a restart or a tick that runs
again never send it twice; a worker that was down at the hour catches up later in the same
period (see `schedule`). A person with nothing to be told is claimed too (nothing is sent,
and they are not looked at again until the next period). Only active staff get digests,
and only of tasks in projects they can still see; each person's channels decide where. An
agency whose `identity.agency.created` has not arrived yet is judged in UTC (its brand's
neutral zone) until it does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Database
from agencyos.common.logs import get_logger
from agencyos.notification.digests.repository import DIGESTS_SETTING, digest_repository
from agencyos.notification.digests.schedule import daily_period, weekly_period
from agencyos.notification.directory.people import Person, people_repository
from agencyos.notification.directory.projects import Project, project_repository
from agencyos.notification.directory.tasks import Task, task_repository
from agencyos.notification.email.brands import brand_of
from agencyos.notification.email.message import Brand
from agencyos.notification.kinds import KINDS, Kind
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.outlets import deliver_notice, public_url
from agencyos.notification.preferences.service import effective_channels_for
from agencyos.notification.recipients.rules import can_see_project, is_staff, may_hear

log = get_logger(__name__)

DAILY = KINDS["tasks.due"]
WEEKLY = KINDS["digest.weekly"]
WEEK = timedelta(days=7)
RECENT_NOTICES = 20
# Digests are not events: their notices and emails are keyed by a name made of the agency,
# person, kind and period (stable, so a digest written twice would still be written once).
DIGEST_NAMESPACE = uuid.UUID("0f6f3a52-5d0e-4d4b-9a57-6c1d2b1e7f10")


def digest_id(tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str, period: date) -> uuid.UUID:
    return uuid.uuid5(DIGEST_NAMESPACE, f"{tenant_id}:{user_id}:{kind}:{period.isoformat()}")


@dataclass
class TickResult:
    daily: int = 0
    weekly: int = 0


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class DigestService:
    def __init__(self, db: Database, *, hour: int) -> None:
        self.db = db
        self.hour = hour

    async def tick(self, now: datetime) -> TickResult:
        """One pass over every agency at `now`."""
        result = TickResult()
        async with self.db.transaction(None, settings={DIGESTS_SETTING: "on"}) as session:
            agencies = await digest_repository.agencies(session)
        for tenant_id in agencies:
            try:
                await self._tick_agency(tenant_id, now, result)
            except Exception:
                # one agency's trouble must not starve the others; the next tick retries
                log.exception("digests failed for an agency", tenant_id=str(tenant_id))
        if result.daily or result.weekly:
            log.info("digests sent", daily=result.daily, weekly=result.weekly)
        return result

    async def _tick_agency(self, tenant_id: uuid.UUID, now: datetime, result: TickResult) -> None:
        async with self.db.transaction(tenant_id) as session:
            brand = await brand_of(session, tenant_id)
            day = daily_period(now, brand.timezone, self.hour)
            monday = weekly_period(now, brand.timezone, self.hour)
            if day is None and monday is None:
                return
            people = [p for p in await people_repository.active(session) if is_staff(p)]
            ids = [p.user_id for p in people]
            daily = (
                await digest_repository.unclaimed(session, ids, DAILY.name, day) if day else set()
            )
            weekly = (
                await digest_repository.unclaimed(session, ids, WEEKLY.name, monday)
                if monday
                else set()
            )
        for person in people:
            if day is not None and person.user_id in daily:
                async with self.db.transaction(tenant_id) as session:
                    if await self._daily(session, tenant_id, person, day, now):
                        result.daily += 1
            if monday is not None and person.user_id in weekly:
                async with self.db.transaction(tenant_id) as session:
                    if await self._weekly(session, tenant_id, person, monday, now, brand):
                        result.weekly += 1

    async def _daily(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        person: Person,
        today: date,
        now: datetime,
    ) -> bool:
        if not await digest_repository.claim(
            session, tenant_id, person.user_id, DAILY.name, today, at=now
        ):
            return False
        tomorrow = today + timedelta(days=1)
        tasks, projects = await _visible_tasks(session, person, DAILY, until=tomorrow)
        overdue = [t for t in tasks if t.due_date is not None and t.due_date < today]
        due_tomorrow = [t for t in tasks if t.due_date == tomorrow]
        items = len(overdue) + len(due_tomorrow)
        await digest_repository.record_items(session, person.user_id, DAILY.name, today, items)
        if not items:
            return False
        parts = [
            f"{len(overdue)} overdue" if overdue else "",
            f"{len(due_tomorrow)} due tomorrow" if due_tomorrow else "",
        ]
        notice = Notice(
            kind=DAILY.name,
            title=f"{_plural(items, 'task')} need you: " + ", ".join(p for p in parts if p),
            body="\n".join(f"- {t.title}" for t in [*overdue, *due_tomorrow]),
            data={
                "overdue": [str(t.id) for t in overdue],
                "due_tomorrow": [str(t.id) for t in due_tomorrow],
                "day": today.isoformat(),
            },
            template="due_digest",
            context={
                "today": today,
                "overdue": _listed(overdue, projects),
                "due_tomorrow": _listed(due_tomorrow, projects),
            },
        )
        await self._deliver(session, tenant_id, person, notice, today)
        return True

    async def _weekly(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        person: Person,
        monday: date,
        now: datetime,
        brand: Brand,
    ) -> bool:
        if not await digest_repository.claim(
            session, tenant_id, person.user_id, WEEKLY.name, monday, at=now
        ):
            return False
        notices = await digest_repository.recent_notices(
            session, person.user_id, now - WEEK, limit=RECENT_NOTICES
        )
        tasks, projects = await _visible_tasks(session, person, WEEKLY, until=monday + WEEK)
        due_soon = [t for t in tasks if t.due_date is not None and t.due_date >= monday]
        unread = await digest_repository.unread_count(session, person.user_id)
        items = len(notices) + len(due_soon)
        await digest_repository.record_items(session, person.user_id, WEEKLY.name, monday, items)
        if not items and not unread:
            return False
        notice = Notice(
            kind=WEEKLY.name,
            title=f"Your week at {brand.name}",
            template="weekly_digest",
            context={
                "week_start": monday - WEEK,
                "week_end": monday - timedelta(days=1),
                "notices": [{"title": n.title, "created_at": n.created_at} for n in notices],
                "due_soon": _listed(due_soon, projects),
                "unread_count": unread,
            },
        )
        await self._deliver(session, tenant_id, person, notice, monday)
        return True

    async def _deliver(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        person: Person,
        notice: Notice,
        period: date,
    ) -> None:
        assert person.role is not None
        channels = await effective_channels_for(
            session, tenant_id, [(person.user_id, person.role)], notice.kind
        )
        await deliver_notice(
            session,
            tenant_id=tenant_id,
            source_event_id=digest_id(tenant_id, person.user_id, notice.kind, period),
            person=person,
            notice=notice,
            channels=channels.get(person.user_id, frozenset()),
        )


async def _visible_tasks(
    session: AsyncSession, person: Person, kind: Kind, *, until: date
) -> tuple[list[Task], dict[uuid.UUID, Project]]:
    """The person's open tasks due by `until`, in projects they can see."""
    if not may_hear(person, kind):
        return [], {}
    tasks = await task_repository.open_assigned_due(session, person.user_id, until=until)
    projects = await project_repository.by_ids(session, {t.project_id for t in tasks})
    visible = [t for t in tasks if can_see_project(person, projects.get(t.project_id), kind)]
    return visible, projects


def _listed(tasks: Iterable[Task], projects: dict[uuid.UUID, Project]) -> list[dict[str, Any]]:
    return [
        {
            "title": t.title,
            "project_name": p.name if (p := projects.get(t.project_id)) else None,
            "due_date": t.due_date,
            "link_url": public_url(f"/v1/tasks/{t.id}"),
        }
        for t in tasks
    ]
