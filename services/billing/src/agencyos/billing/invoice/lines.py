"""Turning reserved time and claimed milestones into invoice lines (pure; no I/O).

Time becomes one line per group (member, task or project) and hourly rate: entries of one
group at two rates are two lines, so every line is `hours x one rate`. The amount is computed
once per line from the exact seconds (see money.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from agencyos.billing.invoice import money
from agencyos.billing.invoice.schemas import GroupBy
from agencyos.billing.models import BillableMilestone
from agencyos.common.peers.time import BillableEntry


@dataclass(frozen=True)
class LineDraft:
    description: str
    quantity: Decimal
    unit_price_cents: int
    amount_cents: int
    tax_rate_bps: int
    tax_cents: int
    source_type: str
    time_entry_ids: list[uuid.UUID] = field(default_factory=list)
    milestone_id: uuid.UUID | None = None
    project_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Names:
    """What lines are called by: people, projects and tasks by id."""

    members: Mapping[uuid.UUID, str]
    projects: Mapping[uuid.UUID, str]
    tasks: Mapping[uuid.UUID, str]

    def member(self, user_id: uuid.UUID) -> str:
        return self.members.get(user_id) or "Team member"

    def project(self, project_id: uuid.UUID) -> str:
        return self.projects.get(project_id) or "Project"


def _group_key(entry: BillableEntry, group_by: GroupBy) -> tuple[uuid.UUID | None, ...]:
    if group_by is GroupBy.MEMBER:
        return (entry.user_id,)
    if group_by is GroupBy.TASK:
        # time without a task is grouped per project
        return (entry.task_id, None if entry.task_id else entry.project_id)
    return (entry.project_id,)


def _describe(entries: Sequence[BillableEntry], group_by: GroupBy, names: Names) -> str:
    first = entries[0]
    projects = sorted({names.project(e.project_id) for e in entries})
    if group_by is GroupBy.MEMBER:
        return f"{names.member(first.user_id)}: {', '.join(projects)}"
    if group_by is GroupBy.TASK:
        if first.task_id is None:
            return f"{names.project(first.project_id)}: other work"
        title = names.tasks.get(first.task_id) or "Task"
        return f"{title} ({names.project(first.project_id)})"
    return names.project(first.project_id)


def time_lines(
    entries: Iterable[BillableEntry], group_by: GroupBy, names: Names, tax_rate_bps: int
) -> list[LineDraft]:
    """One line per group and rate, in a stable order (by description, then rate)."""
    groups: dict[tuple[tuple[uuid.UUID | None, ...], int], list[BillableEntry]] = {}
    for entry in entries:
        groups.setdefault((_group_key(entry, group_by), entry.rate_cents), []).append(entry)
    drafts: list[LineDraft] = []
    for (_, rate_cents), members in groups.items():
        members.sort(key=lambda e: (e.day, str(e.id)))
        seconds = sum(e.duration_seconds for e in members)
        amount = money.time_amount_cents(seconds, rate_cents)
        project_ids = {e.project_id for e in members}
        drafts.append(
            LineDraft(
                description=_describe(members, group_by, names)[:500],
                quantity=money.hours(seconds),
                unit_price_cents=rate_cents,
                amount_cents=amount,
                tax_rate_bps=tax_rate_bps,
                tax_cents=money.tax_cents(amount, tax_rate_bps),
                source_type="time",
                time_entry_ids=[e.id for e in members],
                project_id=next(iter(project_ids)) if len(project_ids) == 1 else None,
            )
        )
    drafts.sort(key=lambda d: (d.description, d.unit_price_cents))
    return drafts


def milestone_lines(milestones: Iterable[BillableMilestone], tax_rate_bps: int) -> list[LineDraft]:
    return [
        LineDraft(
            description=f"Milestone: {m.name}"[:500],
            quantity=Decimal(1),
            unit_price_cents=m.amount_cents,
            amount_cents=m.amount_cents,
            tax_rate_bps=tax_rate_bps,
            tax_cents=money.tax_cents(m.amount_cents, tax_rate_bps),
            source_type="milestone",
            milestone_id=m.milestone_id,
            project_id=m.project_id,
        )
        for m in milestones
    ]


def manual_line(
    description: str, quantity: Decimal, unit_price_cents: int, tax_rate_bps: int
) -> LineDraft:
    amount = money.line_amount_cents(quantity, unit_price_cents)
    return LineDraft(
        description=description,
        quantity=quantity,
        unit_price_cents=unit_price_cents,
        amount_cents=amount,
        tax_rate_bps=tax_rate_bps,
        tax_cents=money.tax_cents(amount, tax_rate_bps),
        source_type="manual",
    )
