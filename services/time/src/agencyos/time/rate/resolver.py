"""Rate resolution. Billable, most specific wins: the person's rate on the project →
the project's rate (time's own, else the hourly rate set on the project in work) → the
person's default rate → the agency's default. Cost rates: the person's → the agency's.
Each rate applies from its `effective_from` date until the next rate of the same scope, so
a new rate never changes the value of time logged before it took effect (and approved
entries keep the rate frozen on them at approval).

Rates carry no currency: a billable rate is read in the currency of the project the time is
billed on, a cost rate in the agency's own."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.time.models import Rate

SECONDS_PER_HOUR = 3600


def amount_cents(duration_seconds: int, hourly_rate_cents: int) -> int:
    """duration times rate, in whole cents, rounded half up (exact integer arithmetic)."""
    if duration_seconds < 0 or hourly_rate_cents < 0:
        raise ValueError("durations and rates are never negative")
    return (duration_seconds * hourly_rate_cents + SECONDS_PER_HOUR // 2) // SECONDS_PER_HOUR


@dataclass(frozen=True)
class ResolvedRate:
    hourly_rate_cents: int | None
    source: str  # project_member | project | member | agency | none
    # the time rate that answered (None for work's project rate and for none)
    rate_id: uuid.UUID | None = None
    effective_from: date | None = None


NO_RATE = ResolvedRate(None, "none")

_Key = tuple[str, str, uuid.UUID | None, uuid.UUID | None]  # kind, scope, user, project


@dataclass(frozen=True)
class _Step:
    effective_from: date
    hourly_rate_cents: int
    rate_id: uuid.UUID


@dataclass
class RateBook:
    """Every rate that can matter for some people and projects, loaded in one query."""

    _timelines: dict[_Key, list[_Step]] = field(default_factory=dict)

    @classmethod
    async def load(
        cls,
        session: AsyncSession,
        user_ids: Iterable[uuid.UUID],
        project_ids: Iterable[uuid.UUID],
    ) -> RateBook:
        users = list(set(user_ids))
        projects = list(set(project_ids))
        conditions = [Rate.scope == "agency"]
        if users:
            conditions.append((Rate.scope == "member") & Rate.user_id.in_(users))
        if projects:
            conditions.append((Rate.scope == "project") & Rate.project_id.in_(projects))
        if users and projects:
            conditions.append(
                (Rate.scope == "project_member")
                & Rate.user_id.in_(users)
                & Rate.project_id.in_(projects)
            )
        rows = (await session.scalars(select(Rate).where(or_(*conditions)))).all()
        return cls.of(rows)

    @classmethod
    def of(cls, rates: Iterable[Rate]) -> RateBook:
        timelines: dict[_Key, list[_Step]] = defaultdict(list)
        for rate in rates:
            key = (rate.kind, rate.scope, rate.user_id, rate.project_id)
            timelines[key].append(_Step(rate.effective_from, rate.hourly_rate_cents, rate.id))
        for timeline in timelines.values():
            # one rate per scope and date (unique index), so dates alone order a timeline
            timeline.sort(key=lambda step: step.effective_from)
        return cls(dict(timelines))

    def _at(self, key: _Key, on: date, source: str) -> ResolvedRate | None:
        """The rate of `key` in effect on `on`: the last one that took effect on or before."""
        timeline = self._timelines.get(key)
        if not timeline:
            return None
        index = bisect_right(timeline, on, key=lambda step: step.effective_from) - 1
        if index < 0:
            return None
        step = timeline[index]
        return ResolvedRate(step.hourly_rate_cents, source, step.rate_id, step.effective_from)

    def billable(
        self,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        on: date,
        project_rate_cents: int | None = None,
    ) -> ResolvedRate:
        """The billable hourly rate for `user_id`'s time on `project_id` on day `on`.
        `project_rate_cents` is the rate set on the project in work (the project level's
        fallback when time holds no project rate for that day)."""
        found = self._at(("billable", "project_member", user_id, project_id), on, "project_member")
        if found is None:
            found = self._at(("billable", "project", None, project_id), on, "project")
        if found is None and project_rate_cents is not None:
            found = ResolvedRate(project_rate_cents, "project")
        if found is None:
            found = self._at(("billable", "member", user_id, None), on, "member")
        if found is None:
            found = self._at(("billable", "agency", None, None), on, "agency")
        return found or NO_RATE

    def cost(self, user_id: uuid.UUID, on: date) -> ResolvedRate:
        """What an hour of `user_id` costs the agency on day `on`."""
        found = self._at(("cost", "member", user_id, None), on, "member")
        if found is None:
            found = self._at(("cost", "agency", None, None), on, "agency")
        return found or NO_RATE
