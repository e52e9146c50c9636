"""Rate resolution. Billable, most specific wins: the person's rate on the project →
the project's rate (time's own, else the hourly rate set on the project in work) → the
person's default rate → the agency's default. Cost rates: the person's → the agency's.
Each rate applies from its `effective_from` date until the next rate of the same scope, so
a new rate never changes the value of time logged before it took effect (and approved
entries keep the rate frozen on them at approval)."""

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
    return (duration_seconds * hourly_rate_cents + SECONDS_PER_HOUR // 2) // SECONDS_PER_HOUR


@dataclass(frozen=True)
class ResolvedRate:
    hourly_rate_cents: int | None
    source: str  # project_member | project | member | agency | none


_Key = tuple[str, str, uuid.UUID | None, uuid.UUID | None]  # kind, scope, user, project


@dataclass
class RateBook:
    """Every rate that can matter for some people and projects, loaded in one query."""

    _timelines: dict[_Key, list[tuple[date, int]]] = field(default_factory=dict)

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
        timelines: dict[_Key, list[tuple[date, int]]] = defaultdict(list)
        for rate in rows:
            key = (rate.kind, rate.scope, rate.user_id, rate.project_id)
            timelines[key].append((rate.effective_from, rate.hourly_rate_cents))
        for timeline in timelines.values():
            timeline.sort()
        return cls(dict(timelines))

    def _at(self, key: _Key, on: date) -> int | None:
        timeline = self._timelines.get(key)
        if not timeline:
            return None
        index = bisect_right(timeline, (on, float("inf"))) - 1
        return timeline[index][1] if index >= 0 else None

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
        candidates: list[tuple[str, int | None]] = [
            ("project_member", self._at(("billable", "project_member", user_id, project_id), on)),
            ("project", self._at(("billable", "project", None, project_id), on)),
        ]
        if candidates[1][1] is None and project_rate_cents is not None:
            candidates[1] = ("project", project_rate_cents)
        candidates += [
            ("member", self._at(("billable", "member", user_id, None), on)),
            ("agency", self._at(("billable", "agency", None, None), on)),
        ]
        for source, cents in candidates:
            if cents is not None:
                return ResolvedRate(cents, source)
        return ResolvedRate(None, "none")

    def cost(self, user_id: uuid.UUID, on: date) -> ResolvedRate:
        """What an hour of `user_id` costs the agency on day `on`."""
        for source, key in (
            ("member", ("cost", "member", user_id, None)),
            ("agency", ("cost", "agency", None, None)),
        ):
            cents = self._at(key, on)
            if cents is not None:
                return ResolvedRate(cents, source)
        return ResolvedRate(None, "none")
