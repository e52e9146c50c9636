"""Notices about deliverables: one submitted (to the client's users, for their approval),
approved or sent back with changes requested (to the project's managers)."""

from __future__ import annotations

from agencyos.common.events import (
    DeliverableApproved,
    DeliverableChangesRequested,
    DeliverableSubmitted,
)
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice, quoted
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import (
    can_see_project,
    client_users,
    project_managers,
)


def deliverable_link(deliverable_id: object) -> str:
    return f"/v1/deliverables/{deliverable_id}"


async def deliverable_submitted(telling: Telling) -> None:
    """To the users of the project's client (who must see the project: a client user of
    another client never hears of it)."""
    payload = telling.event.payload(DeliverableSubmitted)
    kind = KINDS["deliverable.submitted"]
    project = await telling.project(payload.project_id)
    if project is None:
        return
    notice = Notice(
        kind=kind.name,
        title=f"{quoted(payload.title)} awaits your approval",
        body=payload.comment or f"A deliverable of {project.name} is ready for your review.",
        link=deliverable_link(payload.deliverable_id),
        link_label="Review it",
        subject=f"deliverables/{payload.deliverable_id}",
        data={"deliverable_id": str(payload.deliverable_id), "project_id": str(project.id)},
        actor_id=payload.actor_id,
        template="deliverable_awaiting_approval",
        context={"deliverable_title": payload.title, "project_name": project.name},
    )
    users = client_users(project.client_id, await telling.everyone(), kind)
    await telling.tell(notice, [p for p in users if can_see_project(p, project, kind)])


def _answered(
    payload_type: type[DeliverableApproved] | type[DeliverableChangesRequested],
    kind_name: str,
    verb: str,
) -> Builder:
    async def build(telling: Telling) -> None:
        payload = telling.event.payload(payload_type)
        kind = KINDS[kind_name]
        project = await telling.project(payload.project_id)
        if project is None:
            return
        by = await telling.name_of(payload.actor_id) or "The client"
        notice = Notice(
            kind=kind.name,
            title=f"{by} {verb} {quoted(payload.title)}",
            body=payload.comment or f"In {project.name}.",
            link=deliverable_link(payload.deliverable_id),
            link_label="Open the deliverable",
            subject=f"deliverables/{payload.deliverable_id}",
            data={"deliverable_id": str(payload.deliverable_id), "project_id": str(project.id)},
            actor_id=payload.actor_id,
        )
        await telling.tell(notice, project_managers(project, await telling.everyone(), kind))

    build.__name__ = kind_name.replace(".", "_")
    return build


BUILDERS: dict[str, Builder] = {
    DeliverableSubmitted.event_type: deliverable_submitted,
    DeliverableApproved.event_type: _answered(
        DeliverableApproved, "deliverable.approved", "approved"
    ),
    DeliverableChangesRequested.event_type: _answered(
        DeliverableChangesRequested, "deliverable.changes_requested", "asked for changes to"
    ),
}
