"""The utilization report: how much of each person's capacity their logged time fills.

- capacity hours = weekly capacity x working days (Monday to Friday) in the range / 5, for
  people active in the roster now; someone suspended or removed who logged time in the range
  is listed with their hours and no capacity (no utilization, never flagged).
- utilization % = logged hours / capacity hours; billable utilization % = billable hours /
  capacity hours; over-booked above `over` % (default 100), under-booked below `under` %
  (default 70), both overridable per request.
- totals are capacity-weighted (everyone's hours over everyone's capacity): the agency
  average when the report covers the whole team.
- counted entries: every status but `rejected` by default (see schemas.py); selectable.
- who: managers and above (`timesheets.approve`) see everyone (or one person, `user_id`); a
  member sees only themselves, and asking for someone else is a 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.time.models.team_member import DEFAULT_WEEKLY_CAPACITY_HOURS
from agencyos.time.peers import Peers
from agencyos.time.report.repository import LoggedTime, report_repository
from agencyos.time.report.schemas import (
    MemberUtilization,
    ProjectUtilization,
    UtilizationGroup,
    UtilizationReport,
    UtilizationTotals,
)
from agencyos.time.team.permissions import TEAM_READ_PERMISSION, sees_whole_team
from agencyos.time.team.repository import ACTIVE, CLIENT_ROLE, team_member_repository
from agencyos.time.timesheet.schemas import hours

MAX_RANGE_DAYS = 366
WORKING_DAYS_PER_WEEK = 5
SECONDS_PER_HOUR = 3600


def working_days(start: date, end: date) -> int:
    """Monday-to-Friday days from `start` to `end`, both included."""
    return sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def _percent(part: int | Decimal, whole: Decimal) -> Decimal | None:
    if whole <= 0:
        return None
    return Decimal(part) * 100 / whole


def _rounded(value: Decimal | None, places: str = "0.1") -> float | None:
    if value is None:
        return None
    return float(value.quantize(Decimal(places), rounding=ROUND_HALF_UP))


@dataclass(frozen=True)
class Thresholds:
    over: float
    under: float


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    name: str
    role: str | None
    status: str | None
    weekly_capacity_hours: Decimal


class ReportService:
    async def utilization(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        *,
        start: date,
        end: date,
        group_by: UtilizationGroup,
        user_id: uuid.UUID | None,
        statuses: Sequence[str],
        thresholds: Thresholds,
    ) -> UtilizationReport:
        self._check_period(start, end)
        self._check_thresholds(thresholds)
        whole_team = sees_whole_team(principal)
        if user_id is not None and user_id != principal.user_id and not whole_team:
            raise PermissionDenied(
                f"someone else's utilization needs the '{TEAM_READ_PERMISSION}' permission"
            )
        if not whole_team:
            user_id = principal.user_id
        only = [user_id] if user_id is not None else None
        days = working_days(start, end)

        per_person = await report_repository.logged(
            session, start=start, end=end, statuses=statuses, group_by="member", user_ids=only
        )
        people = await self._people(session, principal, peers, user_id, per_person)
        rows = self._member_rows(people, per_person, days, thresholds)
        report = UtilizationReport(
            from_=start,
            to=end,
            working_days=days,
            group_by=group_by,
            scope="agency" if user_id is None else "member",
            statuses=sorted(statuses),
            over_booked_above_percent=thresholds.over,
            under_booked_below_percent=thresholds.under,
            totals=self._totals(rows, people, days),
        )
        if group_by is UtilizationGroup.MEMBER:
            report.members = rows
        else:
            per_project = await report_repository.logged(
                session,
                start=start,
                end=end,
                statuses=statuses,
                group_by="project",
                user_ids=only,
            )
            report.projects = self._project_rows(per_project)
        return report

    def _check_period(self, start: date, end: date) -> None:
        if end < start:
            raise InvalidInput(
                "`to` is before `from`",
                errors=[
                    {"field": "query.to", "message": "must not be before `from`", "type": "range"}
                ],
            )
        if (end - start).days + 1 > MAX_RANGE_DAYS:
            raise InvalidInput(
                f"the range spans more than {MAX_RANGE_DAYS} days",
                errors=[
                    {
                        "field": "query.to",
                        "message": f"at most {MAX_RANGE_DAYS} days after `from`",
                        "type": "range",
                    }
                ],
            )

    def _check_thresholds(self, thresholds: Thresholds) -> None:
        if thresholds.under > thresholds.over:
            raise InvalidInput(
                "the under-booked threshold is above the over-booked one",
                errors=[
                    {
                        "field": "query.under_threshold",
                        "message": "must not exceed over_threshold",
                        "type": "range",
                    }
                ],
            )

    async def _people(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        user_id: uuid.UUID | None,
        logged: list[LoggedTime],
    ) -> dict[uuid.UUID, Person]:
        """Who the report lists: the one person asked for, or the active team plus anyone
        who logged counted time in the range. Identity fills in people the roster has not
        heard of yet (its events may lag a moment behind)."""
        logged_ids = {row.key for row in logged}
        if user_id is not None:
            wanted = {user_id}
        else:
            wanted = {m.user_id for m in await team_member_repository.active_team(session)}
            wanted |= logged_ids
        roster = await team_member_repository.by_ids(session, list(wanted))
        unknown = [i for i in wanted if i not in roster]
        known_elsewhere = await peers.identity.members(principal, unknown) if unknown else {}
        people: dict[uuid.UUID, Person] = {}
        for person_id in wanted:
            member = roster.get(person_id)
            other = known_elsewhere.get(person_id)
            if member is not None:
                person = Person(
                    person_id,
                    member.name,
                    member.role,
                    member.status,
                    member.weekly_capacity_hours,
                )
            elif other is not None:
                person = Person(
                    person_id,
                    other.name,
                    other.role,
                    other.status,
                    DEFAULT_WEEKLY_CAPACITY_HOURS,
                )
            elif person_id in logged_ids:
                person = Person(person_id, "", None, None, Decimal(0))
            else:
                continue
            if person.role == CLIENT_ROLE and person_id not in logged_ids:
                continue
            people[person_id] = person
        if user_id is not None and user_id not in people:
            raise NotFound("no such team member in your agency")
        return people

    def _capacity_seconds(self, person: Person, days: int) -> Decimal:
        if person.status != ACTIVE or person.role == CLIENT_ROLE:
            return Decimal(0)
        return person.weekly_capacity_hours * SECONDS_PER_HOUR * days / WORKING_DAYS_PER_WEEK

    def _member_rows(
        self,
        people: dict[uuid.UUID, Person],
        logged: list[LoggedTime],
        days: int,
        thresholds: Thresholds,
    ) -> list[MemberUtilization]:
        by_person = {row.key: row for row in logged}
        rows = []
        for person in people.values():
            time = by_person.get(person.user_id)
            logged_seconds = time.logged_seconds if time else 0
            billable_seconds = time.billable_seconds if time else 0
            capacity = self._capacity_seconds(person, days)
            utilization = _percent(logged_seconds, capacity)
            rows.append(
                MemberUtilization(
                    user_id=person.user_id,
                    name=person.name,
                    role=person.role,
                    status=person.status,
                    weekly_capacity_hours=float(person.weekly_capacity_hours),
                    capacity_hours=_rounded(capacity / SECONDS_PER_HOUR, "0.01") or 0.0,
                    logged_seconds=logged_seconds,
                    billable_seconds=billable_seconds,
                    logged_hours=hours(logged_seconds),
                    billable_hours=hours(billable_seconds),
                    non_billable_hours=hours(logged_seconds - billable_seconds),
                    utilization_percent=_rounded(utilization),
                    billable_utilization_percent=_rounded(_percent(billable_seconds, capacity)),
                    over_booked=utilization is not None and utilization > Decimal(thresholds.over),
                    under_booked=utilization is not None
                    and utilization < Decimal(thresholds.under),
                )
            )
        rows.sort(key=lambda r: (r.name.casefold(), str(r.user_id)))
        return rows

    def _totals(
        self, rows: list[MemberUtilization], people: dict[uuid.UUID, Person], days: int
    ) -> UtilizationTotals:
        capacity = sum((self._capacity_seconds(p, days) for p in people.values()), start=Decimal(0))
        logged = sum(r.logged_seconds for r in rows)
        billable = sum(r.billable_seconds for r in rows)
        return UtilizationTotals(
            people=len(rows),
            capacity_hours=_rounded(capacity / SECONDS_PER_HOUR, "0.01") or 0.0,
            logged_hours=hours(logged),
            billable_hours=hours(billable),
            non_billable_hours=hours(logged - billable),
            utilization_percent=_rounded(_percent(logged, capacity)),
            billable_utilization_percent=_rounded(_percent(billable, capacity)),
            over_booked=sum(1 for r in rows if r.over_booked),
            under_booked=sum(1 for r in rows if r.under_booked),
        )

    def _project_rows(self, logged: list[LoggedTime]) -> list[ProjectUtilization]:
        rows = [
            ProjectUtilization(
                project_id=row.key,
                people=row.people,
                logged_seconds=row.logged_seconds,
                billable_seconds=row.billable_seconds,
                logged_hours=hours(row.logged_seconds),
                billable_hours=hours(row.billable_seconds),
                non_billable_hours=hours(row.logged_seconds - row.billable_seconds),
                billable_percent=_rounded(
                    _percent(row.billable_seconds, Decimal(row.logged_seconds))
                ),
            )
            for row in logged
        ]
        rows.sort(key=lambda r: (-r.logged_seconds, str(r.project_id)))
        return rows


report_service = ReportService()
