"""Timers: one running timer per person (the `timers` primary key), started on a project the
person may log time on, stopped into time entries by the same rules as logging by hand.

Stopping:
- under a second: the timer is discarded and nothing is logged (and the answer says so);
- past midnight in the agency's timezone: one entry per day;
- longer than 12 hours (a timer left running overnight or over a weekend): only its first
  12 hours are logged, and the answer says so. A forgotten timer's hours are far more likely
  to be idle than work; billing them would be the expensive mistake, and the person can
  still log what they really did by hand;
- the entries are checked like any other: a week submitted meanwhile or an entry logged by
  hand over the same time answers 409 and the timer keeps running (fix the clash, or
  discard the timer with DELETE /v1/timers/current).

The project is checked when the timer starts, not again when it stops: the time was spent
while the project was open.

Starting a timer while one runs stops (and saves) the running one first, in the same
transaction: if saving it fails, nothing changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound
from agencyos.time.entry.rules import MAX_ENTRY_SECONDS, local_today, split_by_day, whole_seconds
from agencyos.time.entry.service import NewEntry, entry_service
from agencyos.time.models import TimeEntry, Timer
from agencyos.time.peers import Peers
from agencyos.time.timer.repository import timer_repository
from agencyos.time.timer.schemas import TimerStart

MIN_TIMER = timedelta(seconds=1)
MAX_TIMER = timedelta(seconds=MAX_ENTRY_SECONDS)


@dataclass
class Stopped:
    timer: Timer
    stopped_at: datetime
    entries: list[TimeEntry] = field(default_factory=list)
    discarded: bool = False
    capped: bool = False
    detail: str = ""


def _duration_words(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s"


class TimerService:
    async def current(self, session: AsyncSession, principal: Principal) -> Timer | None:
        return await timer_repository.get(session, principal.user_id)

    async def start(
        self, session: AsyncSession, principal: Principal, peers: Peers, body: TimerStart
    ) -> tuple[Timer, Stopped | None]:
        target = await entry_service.target(principal, peers, body.project_id, body.task_id)
        now = utcnow()
        running = await timer_repository.lock(session, principal.user_id)
        stopped = None
        if running is not None:
            stopped = await self._stop(session, principal, peers, running, now)
        zone = await peers.timezone(principal)
        # a week already submitted takes no new time: say so now rather than at stop
        await entry_service.lock_weeks(session, principal, [local_today(zone, now)])
        timer = Timer(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            project_id=target.project.id,
            task_id=target.task_id,
            client_id=target.project.client_id,
            description=body.description,
            is_billable=(
                body.is_billable
                if body.is_billable is not None
                else target.project.billable_by_default
            ),
            started_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(timer)
                await session.flush()
        except IntegrityError as exc:  # two starts at the same moment, neither saw a timer
            raise Conflict(
                "another timer of yours was started at the same moment; try again"
            ) from exc
        return timer, stopped

    async def stop(self, session: AsyncSession, principal: Principal, peers: Peers) -> Stopped:
        timer = await timer_repository.lock(session, principal.user_id)
        if timer is None:
            raise NotFound("no timer is running")
        return await self._stop(session, principal, peers, timer, utcnow())

    async def discard(self, session: AsyncSession, principal: Principal) -> None:
        timer = await timer_repository.lock(session, principal.user_id)
        if timer is None:
            raise NotFound("no timer is running")
        await timer_repository.delete(session, timer)

    async def _stop(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        timer: Timer,
        now: datetime,
    ) -> Stopped:
        """Save the (locked) timer as entries and remove it."""
        stopped = Stopped(timer=timer, stopped_at=now)
        ran = now - timer.started_at
        if ran < MIN_TIMER:
            await timer_repository.delete(session, timer)
            stopped.discarded = True
            stopped.detail = (
                "the timer ran for less than a second: it was discarded, nothing logged"
            )
            return stopped
        started_at = whole_seconds(timer.started_at)
        ended_at = whole_seconds(now)
        if ended_at - started_at > MAX_TIMER:
            ended_at = started_at + MAX_TIMER
            stopped.capped = True
        zone = await peers.timezone(principal)
        pieces = split_by_day(started_at, ended_at, zone)
        # gone before the entries go in, so they do not clash with the timer itself
        await timer_repository.delete(session, timer)
        stopped.entries = await entry_service.log(
            session,
            principal,
            project_id=timer.project_id,
            client_id=timer.client_id,
            task_id=timer.task_id,
            description=timer.description,
            is_billable=timer.is_billable,
            pieces=[NewEntry(p.day, p.duration_seconds, p.started_at, p.ended_at) for p in pieces],
        )
        words = [f"logged {_duration_words(ended_at - started_at)}"]
        if len(pieces) > 1:
            words.append(
                f"split at midnight (agency timezone) into {len(pieces)} entries, one per day"
            )
        if stopped.capped:
            words.append(
                f"the timer ran {_duration_words(ran)}, longer than the 12 hours an entry may "
                "last: only its first 12 hours were logged; log anything else by hand"
            )
        stopped.detail = "; ".join(words)
        return stopped


timer_service = TimerService()
