"""Notices about deals (to the deal's assignee, who must still read deals) and the project
started from a won deal (to its managers, else its members)."""

from __future__ import annotations

import uuid

from agencyos.common.currencies import format_money
from agencyos.common.events import DealAssigned, DealLost, DealWon, ProjectCreated
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice, quoted
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import holds, project_managers, project_members

READ_DEALS = "deals.read"


def deal_link(deal_id: uuid.UUID) -> str:
    return f"/v1/deals/{deal_id}"


def _deal_notice(
    kind: str, deal_id: uuid.UUID, title: str, body: str, actor_id: uuid.UUID | None
) -> Notice:
    return Notice(
        kind=kind,
        title=title,
        body=body,
        link=deal_link(deal_id),
        link_label="Open the deal",
        subject=f"deals/{deal_id}",
        data={"deal_id": str(deal_id)},
        actor_id=actor_id,
    )


async def _tell_assignee(telling: Telling, notice: Notice, assignee: uuid.UUID | None) -> None:
    if assignee is None:
        return
    kind = KINDS[notice.kind]
    people = await telling.named(assignee)
    await telling.tell(notice, [p for p in people if holds(p, READ_DEALS, kind)])


async def deal_assigned(telling: Telling) -> None:
    payload = telling.event.payload(DealAssigned)
    by = await telling.name_of(payload.assigned_by)
    deal = quoted(payload.title)
    notice = _deal_notice(
        "deal.assigned",
        payload.deal_id,
        f"{by} assigned you the deal {deal}" if by else f"The deal {deal} is yours",
        f"Worth {format_money(payload.value_cents, payload.currency)}.",
        payload.assigned_by,
    )
    await _tell_assignee(telling, notice, payload.assigned_to)


async def deal_won(telling: Telling) -> None:
    payload = telling.event.payload(DealWon)
    notice = _deal_notice(
        "deal.won",
        payload.deal_id,
        f"Your deal {quoted(payload.title)} was won",
        f"{payload.client_name}: {format_money(payload.value_cents, payload.currency)}.",
        payload.won_by,
    )
    await _tell_assignee(telling, notice, payload.assigned_to)


async def deal_lost(telling: Telling) -> None:
    payload = telling.event.payload(DealLost)
    notice = _deal_notice(
        "deal.lost",
        payload.deal_id,
        f"Your deal {quoted(payload.title)} was lost",
        f"Reason: {payload.lost_reason}",
        payload.lost_by,
    )
    await _tell_assignee(telling, notice, payload.assigned_to)


async def project_created_from_deal(telling: Telling) -> None:
    payload = telling.event.payload(ProjectCreated)
    if payload.deal_id is None:
        return
    kind = KINDS["project.created_from_deal"]
    project = await telling.project(payload.project_id)
    if project is None:
        return
    everyone = await telling.everyone()
    # Its managers, else its members. The one who won the deal (the project's creator, whom
    # `project_managers` falls back to) is never told of it, so they count for nothing here.
    managers = [
        p for p in project_managers(project, everyone, kind) if p.user_id != payload.created_by
    ]
    told = managers or project_members(project, everyone, kind)
    notice = Notice(
        kind=kind.name,
        title=f"Project {quoted(project.name)} was started from a won deal",
        body="Its board and tasks are ready.",
        link=f"/v1/projects/{project.id}",
        link_label="Open the project",
        subject=f"projects/{project.id}",
        data={"project_id": str(project.id), "deal_id": str(payload.deal_id)},
        actor_id=payload.created_by,
    )
    await telling.tell(notice, told)


BUILDERS: dict[str, Builder] = {
    DealAssigned.event_type: deal_assigned,
    DealWon.event_type: deal_won,
    DealLost.event_type: deal_lost,
    ProjectCreated.event_type: project_created_from_deal,
}
