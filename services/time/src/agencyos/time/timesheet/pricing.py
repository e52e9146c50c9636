"""What approval freezes on each entry: the billable and cost rates that applied on its day and
the project's currency, so a later rate change never rewrites the value of approved time."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.time.models import TimeEntry
from agencyos.time.peers import Peers
from agencyos.time.rate.resolver import RateBook


async def agency_currency(peers: Peers, principal: Principal) -> str | None:
    """The agency's currency (identity), for entries whose project work no longer answers."""
    agency = await peers.identity.agency(principal)
    return agency.currency or None


async def freeze_rates(
    session: AsyncSession,
    principal: Principal,
    peers: Peers,
    user_id: uuid.UUID,
    entries: Sequence[TimeEntry],
) -> None:
    """Set `billable_rate_cents`, `cost_rate_cents` and `currency` on `entries` (all of
    `user_id`) as they resolve on each entry's day. The billable rate is frozen on
    non-billable entries too (the value written off); a level with no rate at all leaves the
    entry's own value (null unless something set it)."""
    if not entries:
        return
    project_ids = list(dict.fromkeys(e.project_id for e in entries))
    projects = await peers.work.projects(principal, project_ids)
    book = await RateBook.load(session, [user_id], project_ids)
    fallback_currency: str | None = None
    if any(p not in projects for p in project_ids):
        fallback_currency = await agency_currency(peers, principal)
    for entry in entries:
        project = projects.get(entry.project_id)
        billable = book.billable(
            user_id,
            entry.project_id,
            entry.date,
            project.hourly_rate_cents if project is not None else None,
        )
        cost = book.cost(user_id, entry.date)
        if billable.hourly_rate_cents is not None:
            entry.billable_rate_cents = billable.hourly_rate_cents
        if cost.hourly_rate_cents is not None:
            entry.cost_rate_cents = cost.hourly_rate_cents
        currency = project.currency if project is not None and project.currency else None
        entry.currency = currency or fallback_currency or entry.currency
