"""Time entries: logging (by hand and from timers), reading, editing, deleting, the trail.

The integrity rules, each held here and, where a database can hold it, by PostgreSQL too:

- An entry is always its author's own (`time.write`); approvers read everyone's entries but
  never change them.
- Time goes on a project the person is a member of (work's answer), that is planning or
  active; a task must belong to that project.
- Nothing is dated after the agency's today (its timezone, from identity); an interval never
  ends after now.
- An entry lasts 1 second to 12 hours (also a CHECK); a timed entry's duration is its interval
  (also a CHECK).
- An interval that crosses midnight in the agency's timezone becomes one entry per day.
- One person's intervals never overlap: checked first for a clear answer naming the clashing
  entry, and held by the exclusion constraint `time_entries_no_overlap`, so two concurrent
  requests cannot both get through; the loser's violation is turned into the same 409.
  An interval may not reach into the person's running timer either.
- Only `draft` and `rejected` entries change; a week whose timesheet is submitted or approved
  takes no new, changed or removed entries (`lock_week`, shared lock, per week touched).
- Every write leaves a row in the audit trail in the same transaction; every new entry
  publishes `time.entry.logged`.

Lock order: an edit or deletion takes its weeks' locks before the entry's row, the order in
which submitting a week takes them (week, then its entries), so the two cannot deadlock.
Services never commit: the edge owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, InvalidInput, NotFound, PermissionDenied, field_error
from agencyos.common.events import TimeEntryLogged
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.peers.work import Project as ProjectInfo
from agencyos.common.zones import rfc3339_utc
from agencyos.time import audit
from agencyos.time.entry.repository import (
    NO_OVERLAP_CONSTRAINT,
    EntryFilters,
    change_repository,
    entry_repository,
)
from agencyos.time.entry.rules import (
    MAX_ENTRY_SECONDS,
    local_today,
    split_by_day,
    start_of_day,
    whole_seconds,
)
from agencyos.time.entry.schemas import TimeEntryCreate, TimeEntryUpdate
from agencyos.time.models import TimeEntry, TimeEntryChange
from agencyos.time.models.entry import EDITABLE_STATUSES
from agencyos.time.peers import Peers
from agencyos.time.timesheet.week import LOCKED_STATUSES, lock_week, week_start

SERVICE = "time"
EXCLUSION_VIOLATION = "23P01"
CHECK_VIOLATION = "23514"
APPROVE_PERMISSION = "timesheets.approve"


def sees_everyones_entries(principal: Principal) -> bool:
    """Approvers (managers and above) read every entry of the agency; others their own."""
    return principal.can(APPROVE_PERMISSION)


def _sqlstate(exc: IntegrityError) -> str | None:
    return getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)


def overlap_conflict(clash: TimeEntry | None) -> Conflict:
    if clash is None or clash.started_at is None or clash.ended_at is None:
        return Conflict("the interval overlaps another of your time entries")
    return Conflict(
        f"the interval overlaps your time entry {clash.id} "
        f"({rfc3339_utc(clash.started_at)} to {rfc3339_utc(clash.ended_at)})",
        extra={"clashing_entry_id": str(clash.id)},
    )


@dataclass(frozen=True)
class Target:
    """Where time goes, checked against work: the project and (optionally) its task."""

    project: ProjectInfo
    task_id: uuid.UUID | None


@dataclass(frozen=True)
class NewEntry:
    """One entry to insert (one day's piece of an interval, or a duration)."""

    day: date
    duration_seconds: int
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True)
class Logged:
    entries: list[TimeEntry]
    split: bool


class EntryService:
    # --- checks against work ----------------------------------------------------------------

    async def target(
        self,
        principal: Principal,
        peers: Peers,
        project_id: uuid.UUID,
        task_id: uuid.UUID | None,
    ) -> Target:
        """The project (and task) the caller may log time on now: a project of the agency
        (else 422 naming `project_id`, exactly alike for another agency's), that they are a
        member of (else 403), open for work (else 409), and a task of it (else 422 naming
        `task_id`)."""
        try:
            membership = await peers.work.membership(principal, project_id, principal.user_id)
        except NotFound:
            raise field_error("project_id", "no such project in your agency") from None
        if not membership.is_member:
            raise PermissionDenied(
                "you are not a member of this project: only its members log time on it"
            )
        if not membership.accepts_time:
            raise Conflict(
                f"the project is {membership.status}: it takes no new time entries",
                extra={"project_status": membership.status},
            )
        project = await peers.work.project(principal, project_id)
        if project is None:  # removed from it a moment ago
            raise field_error("project_id", "no such project in your agency")
        await self.check_task(principal, peers, project_id, task_id)
        return Target(project, task_id)

    async def check_task(
        self,
        principal: Principal,
        peers: Peers,
        project_id: uuid.UUID,
        task_id: uuid.UUID | None,
    ) -> None:
        if task_id is None:
            return
        task = (await peers.work.tasks(principal, [task_id])).get(task_id)
        if task is None or task.project_id != project_id:
            raise field_error("task_id", "no such task in this project")

    # --- writing ------------------------------------------------------------------------------

    async def lock_weeks(
        self, session: AsyncSession, principal: Principal, days: Iterable[date]
    ) -> None:
        """Take the week lock of every week `days` touch (in date order), refusing with 409
        when one is submitted or approved."""
        mondays = sorted({week_start(day) for day in days})
        for monday in mondays:
            sheet = await lock_week(session, principal.tenant_id, principal.user_id, monday)
            if sheet.status in LOCKED_STATUSES:
                raise Conflict(
                    f"the week of {monday.isoformat()} is {sheet.status}: its entries cannot "
                    "change (a rejected week opens again)",
                    extra={
                        "week_start": monday.isoformat(),
                        "timesheet_id": str(sheet.id),
                        "timesheet_status": sheet.status,
                    },
                )

    async def check_free(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        started_at: datetime,
        ended_at: datetime,
        *,
        excluding: uuid.UUID | None = None,
    ) -> None:
        """Refuse an interval that overlaps another entry of the person or reaches into
        their running timer (409 naming what it clashes with)."""
        clash = await entry_repository.first_overlapping(
            session, user_id, started_at, ended_at, excluding=excluding
        )
        if clash is not None:
            raise overlap_conflict(clash)
        timer = await entry_repository.running_timer(session, user_id)
        if timer is not None and ended_at > whole_seconds(timer.started_at):
            raise Conflict(
                "the interval reaches into your running timer (started "
                f"{rfc3339_utc(timer.started_at)}): stop it first or end the interval before",
                extra={"clashing_timer_id": str(timer.id)},
            )

    async def flush_guarded(
        self,
        session: AsyncSession,
        user_id: uuid.UUID,
        started_at: datetime | None,
        ended_at: datetime | None,
        *,
        excluding: uuid.UUID | None = None,
        apply: Callable[[], None],
    ) -> None:
        """Make the change (`apply`) and flush it in a savepoint. When another transaction
        slipped an overlapping entry in after our check, the exclusion constraint refuses
        ours: answer the same 409 as the check, naming the entry that won. (The change is
        applied inside the savepoint: opening one flushes what is pending first.)"""
        try:
            async with session.begin_nested():
                apply()
                await session.flush()
        except IntegrityError as exc:
            state = _sqlstate(exc)
            if state == EXCLUSION_VIOLATION or NO_OVERLAP_CONSTRAINT in str(exc.orig):
                clash = None
                if started_at is not None and ended_at is not None:
                    clash = await entry_repository.first_overlapping(
                        session, user_id, started_at, ended_at, excluding=excluding
                    )
                raise overlap_conflict(clash) from exc
            if state == CHECK_VIOLATION:
                raise InvalidInput("the entry breaks a rule of time entries") from exc
            raise

    async def log(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        project_id: uuid.UUID,
        client_id: uuid.UUID | None,
        task_id: uuid.UUID | None,
        description: str,
        is_billable: bool,
        pieces: Sequence[NewEntry],
    ) -> list[TimeEntry]:
        """Insert the caller's entries (already validated against work and the calendar):
        the week locks, the overlap check and the database's own guard, the trail and one
        `time.entry.logged` per entry."""
        await self.lock_weeks(session, principal, [p.day for p in pieces])
        timed = [p for p in pieces if p.started_at is not None and p.ended_at is not None]
        started_at = min((p.started_at for p in timed if p.started_at), default=None)
        ended_at = max((p.ended_at for p in timed if p.ended_at), default=None)
        if started_at is not None and ended_at is not None:
            await self.check_free(session, principal.user_id, started_at, ended_at)
        entries = [
            TimeEntry(
                tenant_id=principal.tenant_id,
                id=uuid.uuid4(),
                user_id=principal.user_id,
                project_id=project_id,
                task_id=task_id,
                client_id=client_id,
                date=piece.day,
                started_at=piece.started_at,
                ended_at=piece.ended_at,
                duration_seconds=piece.duration_seconds,
                description=description,
                is_billable=is_billable,
                status="draft",
                version=1,
                created_by=principal.user_id,
            )
            for piece in pieces
        ]
        await self.flush_guarded(
            session,
            principal.user_id,
            started_at,
            ended_at,
            apply=lambda: session.add_all(entries),
        )
        for entry in entries:
            await audit.record(
                session, entry, actor_id=principal.user_id, action="created", before=None
            )
            await publish(
                session,
                TimeEntryLogged(
                    entry_id=entry.id,
                    user_id=entry.user_id,
                    project_id=entry.project_id,
                    task_id=entry.task_id,
                    client_id=entry.client_id,
                    date=entry.date,
                    duration_seconds=entry.duration_seconds,
                    is_billable=entry.is_billable,
                ),
                source_service=SERVICE,
                subject=f"time-entries/{entry.id}",
            )
        await session.flush()
        return entries

    async def create(
        self, session: AsyncSession, principal: Principal, peers: Peers, body: TimeEntryCreate
    ) -> Logged:
        zone = await peers.timezone(principal)
        pieces = self.pieces_of(body, zone)
        target = await self.target(principal, peers, body.project_id, body.task_id)
        is_billable = (
            body.is_billable if body.is_billable is not None else target.project.billable_by_default
        )
        entries = await self.log(
            session,
            principal,
            project_id=target.project.id,
            client_id=target.project.client_id,
            task_id=target.task_id,
            description=body.description,
            is_billable=is_billable,
            pieces=pieces,
        )
        return Logged(entries, split=len(entries) > 1)

    def pieces_of(self, body: TimeEntryCreate, zone: ZoneInfo) -> list[NewEntry]:
        """What a create request logs, by the calendar rules (422 naming the field)."""
        if body.started_at is not None or body.ended_at is not None:
            if body.duration_seconds is not None:
                raise field_error(
                    "duration_seconds",
                    "send either an interval (started_at and ended_at) or a duration, not both",
                )
            started_at, ended_at = self.interval(body.started_at, body.ended_at)
            pieces = split_by_day(started_at, ended_at, zone)
            if body.date is not None and body.date != pieces[0].day:
                raise field_error(
                    "date",
                    f"the interval starts on {pieces[0].day.isoformat()} in the agency's "
                    "timezone; leave date out or send that day",
                )
            return [NewEntry(p.day, p.duration_seconds, p.started_at, p.ended_at) for p in pieces]
        if body.duration_seconds is None:
            raise field_error(
                "duration_seconds",
                "send an interval (started_at and ended_at) or a date with duration_seconds",
                "missing",
            )
        if body.date is None:
            raise field_error("date", "a duration needs the date it was spent on", "missing")
        self.check_day(body.date, body.duration_seconds, zone)
        return [NewEntry(body.date, body.duration_seconds)]

    def interval(
        self, started_at: datetime | None, ended_at: datetime | None
    ) -> tuple[datetime, datetime]:
        """A valid interval: both ends, in order, at most 12 hours, not ending in the future
        (kept to whole seconds)."""
        if started_at is None:
            raise field_error("started_at", "an interval needs started_at too", "missing")
        if ended_at is None:
            raise field_error("ended_at", "an interval needs ended_at too", "missing")
        start, end = whole_seconds(started_at), whole_seconds(ended_at)
        if end <= start:
            raise field_error("ended_at", "ended_at must be at least a second after started_at")
        if end - start > timedelta(seconds=MAX_ENTRY_SECONDS):
            raise field_error(
                "ended_at", "an entry lasts at most 12 hours: log longer work as several"
            )
        if end > whole_seconds(utcnow()):
            raise field_error("ended_at", "ended_at is in the future: log time once spent")
        return start, end

    def check_day(self, day: date, duration_seconds: int, zone: ZoneInfo) -> None:
        """A duration's day is not after the agency's today, and today holds no more time
        than has passed since its midnight."""
        now = utcnow()
        today = local_today(zone, now)
        if day > today:
            raise field_error(
                "date",
                f"{day.isoformat()} is in the future (today is {today.isoformat()} in the "
                "agency's timezone)",
            )
        if day == today:
            elapsed = int((now - start_of_day(today, zone)).total_seconds())
            if duration_seconds > elapsed:
                raise field_error(
                    "duration_seconds",
                    f"only {elapsed} seconds of today have passed in the agency's timezone",
                )

    # --- reading ------------------------------------------------------------------------------

    def visible(self, principal: Principal, entry: TimeEntry) -> bool:
        return entry.user_id == principal.user_id or sees_everyones_entries(principal)

    async def get(
        self, session: AsyncSession, principal: Principal, entry_id: uuid.UUID
    ) -> TimeEntry:
        entry = await entry_repository.get(session, entry_id)
        if entry is None or not self.visible(principal, entry):
            raise NotFound("no such time entry")
        return entry

    def scoped_filters(self, principal: Principal, filters: EntryFilters) -> EntryFilters:
        """Members list their own entries only; approvers anyone's."""
        if sees_everyones_entries(principal):
            return filters
        if filters.user_id is not None and filters.user_id != principal.user_id:
            raise PermissionDenied(
                f"listing other people's entries needs the '{APPROVE_PERMISSION}' permission"
            )
        return replace(filters, user_id=principal.user_id)

    async def list_entries(
        self,
        session: AsyncSession,
        principal: Principal,
        filters: EntryFilters,
        *,
        sort: str,
        params: PageParams,
    ) -> tuple[Sequence[TimeEntry], int]:
        stmt = entry_repository.filtered_query(self.scoped_filters(principal, filters), sort=sort)
        return await entry_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )

    async def history(
        self,
        session: AsyncSession,
        principal: Principal,
        entry_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[Sequence[TimeEntryChange], int]:
        """The entry's trail, oldest first; it outlives the entry (a deleted entry's trail
        stays readable by the same people)."""
        entry = await entry_repository.get(session, entry_id)
        if entry is not None:
            owner: uuid.UUID | None = entry.user_id
        else:
            owner = await change_repository.trail_owner(session, entry_id)
        if owner is None or (owner != principal.user_id and not sees_everyones_entries(principal)):
            raise NotFound("no such time entry")
        return await change_repository.paginate(
            session,
            change_repository.history_query(entry_id),
            page=params.page,
            per_page=params.per_page,
        )

    # --- changing -----------------------------------------------------------------------------

    def check_editable(self, entry: TimeEntry) -> None:
        if entry.status not in EDITABLE_STATUSES:
            raise Conflict(
                f"the entry is {entry.status}: only draft or rejected entries can be changed",
                extra={"entry_status": entry.status},
            )

    async def own_editable(
        self, session: AsyncSession, principal: Principal, entry_id: uuid.UUID
    ) -> TimeEntry:
        """The caller's own entry, in a status that may change (read, not locked yet)."""
        entry = await entry_repository.get(session, entry_id)
        if entry is None or not self.visible(principal, entry):
            raise NotFound("no such time entry")
        if entry.user_id != principal.user_id:
            raise PermissionDenied(
                "only the person who logged an entry changes it; approvers approve or reject "
                "the week instead"
            )
        self.check_editable(entry)
        return entry

    async def lock_for_change(
        self,
        session: AsyncSession,
        principal: Principal,
        entry: TimeEntry,
        days: Iterable[date],
    ) -> None:
        """Lock the weeks the change touches, then the entry's row, in the order submitting
        a week takes them (week, then entries), so the two never deadlock; then make sure
        the entry is still as it was read."""
        version = entry.version
        await self.lock_weeks(session, principal, days)
        locked = await entry_repository.lock(session, entry.id)
        if locked is None:
            raise NotFound("no such time entry")
        self.check_editable(locked)
        if locked.version != version:
            raise Conflict(
                "the entry changed while this request ran; reload it and try again",
                extra={"current_version": locked.version},
            )

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        entry_id: uuid.UUID,
        body: TimeEntryUpdate,
    ) -> TimeEntry:
        entry = await self.own_editable(session, principal, entry_id)
        sent = body.model_fields_set
        changes: dict[str, Any] = {}

        project_id = body.project_id if "project_id" in sent and body.project_id else None
        task_id = body.task_id if "task_id" in sent else entry.task_id
        if project_id is not None and project_id != entry.project_id:
            target = await self.target(principal, peers, project_id, task_id)
            changes.update(project_id=project_id, client_id=target.project.client_id)
        elif "task_id" in sent and task_id != entry.task_id:
            await self.check_task(principal, peers, entry.project_id, task_id)
        if task_id != entry.task_id:
            changes["task_id"] = task_id

        zone = await peers.timezone(principal)
        changes.update(self.calendar_changes(entry, body, zone))
        for name in ("description", "is_billable"):
            if name in sent and getattr(body, name) != getattr(entry, name):
                changes[name] = getattr(body, name)
        if not changes:
            return entry

        await self.lock_for_change(
            session, principal, entry, {entry.date, changes.get("date", entry.date)}
        )
        started_at = changes.get("started_at", entry.started_at)
        ended_at = changes.get("ended_at", entry.ended_at)
        interval_moved = "started_at" in changes or "ended_at" in changes
        if interval_moved and started_at is not None and ended_at is not None:
            await self.check_free(
                session, principal.user_id, started_at, ended_at, excluding=entry.id
            )

        before = audit.snapshot(entry)

        def apply() -> None:
            for name, value in changes.items():
                setattr(entry, name, value)
            entry.version += 1

        await self.flush_guarded(
            session, principal.user_id, started_at, ended_at, excluding=entry.id, apply=apply
        )
        await audit.record(
            session, entry, actor_id=principal.user_id, action="updated", before=before
        )
        await session.flush()
        return entry

    def calendar_changes(
        self, entry: TimeEntry, body: TimeEntryUpdate, zone: ZoneInfo
    ) -> dict[str, Any]:
        """The date, interval and duration after the edit, by the same rules as logging;
        an edit never splits an entry (an interval across midnight is refused)."""
        sent = body.model_fields_set
        started_at = body.started_at if "started_at" in sent else entry.started_at
        ended_at = body.ended_at if "ended_at" in sent else entry.ended_at
        touched = sent & {"started_at", "ended_at", "date", "duration_seconds"}
        if not touched:
            return {}
        if started_at is not None or ended_at is not None:
            start, end = self.interval(started_at, ended_at)
            pieces = split_by_day(start, end, zone)
            if len(pieces) > 1:
                raise field_error(
                    "ended_at",
                    "the interval crosses midnight in the agency's timezone: an edit keeps "
                    "one day; log the next day's part as a new entry",
                )
            day = pieces[0].day
            duration = pieces[0].duration_seconds
            if "date" in sent and body.date != day:
                raise field_error(
                    "date",
                    f"a timed entry is dated by its start ({day.isoformat()} in the agency's "
                    "timezone): move the interval instead",
                )
            if "duration_seconds" in sent and body.duration_seconds != duration:
                raise field_error(
                    "duration_seconds",
                    "a timed entry's duration is its interval; send started_at and ended_at "
                    "as null to keep a duration only",
                )
            wanted = {
                "started_at": start,
                "ended_at": end,
                "date": day,
                "duration_seconds": duration,
            }
        else:
            day = body.date if "date" in sent and body.date else entry.date
            duration = (
                body.duration_seconds
                if "duration_seconds" in sent and body.duration_seconds
                else entry.duration_seconds
            )
            self.check_day(day, duration, zone)
            wanted = {
                "started_at": None,
                "ended_at": None,
                "date": day,
                "duration_seconds": duration,
            }
        return {k: v for k, v in wanted.items() if getattr(entry, k) != v}

    async def delete(
        self, session: AsyncSession, principal: Principal, entry_id: uuid.UUID
    ) -> None:
        entry = await self.own_editable(session, principal, entry_id)
        await self.lock_for_change(session, principal, entry, [entry.date])
        before = audit.snapshot(entry)
        await audit.record(
            session, entry, actor_id=principal.user_id, action="deleted", before=before
        )
        await entry_repository.delete(session, entry)


entry_service = EntryService()
