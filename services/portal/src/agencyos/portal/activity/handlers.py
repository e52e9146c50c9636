"""The client's recent activity from other services' events: what a client's users may see,
kept per (agency, client), the newest `KEEP_PER_CLIENT` of each.

Whose an entry is comes from the event (deliverables and invoices name their client) or from
the project it is about (work's task and comment events name the project only): projects and
tasks are kept as their events tell them. Nothing internal is recorded: a task only while it
is visible to the client, a comment only when its visibility is `client` (and never its text:
it may be hidden later without an event). When a task leaves the client's sight (made internal
or deleted) its entries go; when a project changes client, the other client's entries about
it go; a voided invoice's entries go (the client no longer sees it).
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import (
    CloudEvent,
    CommentCreated,
    DeliverableApproved,
    DeliverableChangesRequested,
    DeliverableSubmitted,
    InvoicePaid,
    InvoiceSent,
    InvoiceVoided,
    ProjectCreated,
    ProjectStatusChanged,
    ProjectUpdated,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskMoved,
    TaskUpdated,
)
from agencyos.portal.activity.kinds import ActivityKind
from agencyos.portal.activity.repository import activity_repository, directory_repository
from agencyos.portal.models import Activity, KnownProject

# How many entries each client keeps (the dashboard shows the newest few).
KEEP_PER_CLIENT = 200


async def _record(session: AsyncSession, event: CloudEvent, **fields: object) -> None:
    entry = Activity(tenant_id=event.tenantid, id=event.id, **fields)
    if entry.occurred_at is None:
        entry.occurred_at = event.time
    await activity_repository.add(session, entry, keep=KEEP_PER_CLIENT)


async def _client_project(session: AsyncSession, project_id: uuid.UUID) -> KnownProject | None:
    """The project if it is known and some client's."""
    project = await directory_repository.project(session, project_id)
    return project if project is not None and project.client_id is not None else None


# --- projects ------------------------------------------------------------------------------


async def _keep_project(
    session: AsyncSession,
    event: CloudEvent,
    project_id: uuid.UUID,
    *,
    client_id: uuid.UUID | None,
    name: str | None,
) -> None:
    if name is None:
        known = await directory_repository.project(session, project_id)
        name = known.name if known is not None else ""
    kept = await directory_repository.keep_project(
        session, event.tenantid, project_id, client_id=client_id, name=name, as_of=event.time
    )
    if kept:
        await activity_repository.forget_project_for_others(session, project_id, client_id)
        if name:
            await activity_repository.rename_project(session, project_id, name)


async def on_project_created(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(ProjectCreated)
    await _keep_project(
        session, event, payload.project_id, client_id=payload.client_id, name=payload.name
    )


async def on_project_updated(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(ProjectUpdated)
    await _keep_project(
        session, event, payload.project_id, client_id=payload.client_id, name=payload.name
    )


async def on_project_status_changed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(ProjectStatusChanged)
    name = payload.project.name if payload.project is not None else None
    await _keep_project(session, event, payload.project_id, client_id=payload.client_id, name=name)


# --- tasks and comments --------------------------------------------------------------------

TaskEvent = TaskCreated | TaskUpdated | TaskMoved | TaskCompleted
_TASK_EVENTS: dict[str, type[TaskEvent]] = {
    cls.event_type: cls for cls in (TaskCreated, TaskUpdated, TaskMoved, TaskCompleted)
}


def _task_kind(
    payload: TaskEvent, known_status: str | None, was_visible: bool | None
) -> ActivityKind | None:
    """What a task event tells the client (the task is visible to it now), or None.
    `known_status`/`was_visible`: the task as last told (None: not known)."""
    if isinstance(payload, TaskCreated):
        return ActivityKind.TASK_CREATED
    if was_visible is False or (
        was_visible is None
        and isinstance(payload, TaskUpdated)
        and "visible_to_client" in payload.changed_fields
    ):
        return ActivityKind.TASK_SHARED
    if known_status is not None:
        return ActivityKind.TASK_STATUS_CHANGED if known_status != payload.status else None
    # A task not known before (told before this model existed): a move or completion, or an
    # update that names the status, changed its status.
    if isinstance(payload, TaskMoved | TaskCompleted):
        return ActivityKind.TASK_STATUS_CHANGED
    if isinstance(payload, TaskUpdated) and "status" in payload.changed_fields:
        return ActivityKind.TASK_STATUS_CHANGED
    return None


async def on_task_event(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(_TASK_EVENTS[event.type])
    known = await directory_repository.task(session, payload.task_id)
    known_status = known.status if known is not None else None
    was_visible = known.visible_to_client if known is not None else None
    await directory_repository.keep_task(
        session,
        event.tenantid,
        payload.task_id,
        project_id=payload.project_id,
        status=payload.status,
        visible_to_client=payload.visible_to_client,
    )
    if not payload.visible_to_client:
        if was_visible is not False:
            # Internal again (or not known): whatever the client was told of it goes.
            await activity_repository.forget_task(session, payload.task_id)
        return
    kind = _task_kind(payload, known_status, was_visible)
    project = await _client_project(session, payload.project_id)
    if kind is None or project is None:
        return
    await _record(
        session,
        event,
        client_id=project.client_id,
        kind=kind,
        project_id=project.id,
        project_name=project.name,
        task_id=payload.task_id,
        title=payload.title,
        status=payload.status,
    )


async def on_task_deleted(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(TaskDeleted)
    await activity_repository.forget_task(session, payload.task_id)
    await directory_repository.drop_task(session, payload.task_id)


async def on_comment_created(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(CommentCreated)
    if payload.visibility != "client":
        return
    known = await directory_repository.task(session, payload.task_id)
    if known is not None and not known.visible_to_client:
        return
    project = await _client_project(session, payload.project_id)
    if project is None:
        return
    await _record(
        session,
        event,
        client_id=project.client_id,
        kind=ActivityKind.COMMENT_ADDED,
        project_id=project.id,
        project_name=project.name,
        task_id=payload.task_id,
        title=payload.task_title,
    )


# --- deliverables --------------------------------------------------------------------------

DeliverableEvent = DeliverableSubmitted | DeliverableApproved | DeliverableChangesRequested
_DELIVERABLE_KINDS: dict[str, tuple[type[DeliverableEvent], ActivityKind]] = {
    DeliverableSubmitted.event_type: (DeliverableSubmitted, ActivityKind.DELIVERABLE_SUBMITTED),
    DeliverableApproved.event_type: (DeliverableApproved, ActivityKind.DELIVERABLE_APPROVED),
    DeliverableChangesRequested.event_type: (
        DeliverableChangesRequested,
        ActivityKind.DELIVERABLE_CHANGES_REQUESTED,
    ),
}


async def on_deliverable_event(session: AsyncSession, event: CloudEvent) -> None:
    model, kind = _DELIVERABLE_KINDS[event.type]
    payload = event.payload(model)
    if payload.client_id is None:
        return
    project = await directory_repository.project(session, payload.project_id)
    await _record(
        session,
        event,
        client_id=payload.client_id,
        kind=kind,
        project_id=payload.project_id,
        project_name=project.name if project is not None and project.name else None,
        deliverable_id=payload.deliverable_id,
        title=payload.title,
        comment=payload.comment,
    )


# --- invoices ------------------------------------------------------------------------------


async def on_invoice_sent(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceSent)
    await _record(
        session,
        event,
        client_id=payload.client_id,
        kind=ActivityKind.INVOICE_SENT,
        invoice_id=payload.invoice_id,
        title=payload.number,
        amount_cents=payload.total_cents,
        currency=payload.currency,
    )


async def on_invoice_paid(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoicePaid)
    await _record(
        session,
        event,
        client_id=payload.client_id,
        kind=ActivityKind.INVOICE_PAID,
        invoice_id=payload.invoice_id,
        title=payload.number,
        amount_cents=payload.total_cents,
        currency=payload.currency,
        occurred_at=payload.paid_at,
    )


async def on_invoice_voided(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceVoided)
    await activity_repository.forget_invoice(session, payload.invoice_id)


HANDLERS: dict[str, Handler] = {
    ProjectCreated.event_type: on_project_created,
    ProjectUpdated.event_type: on_project_updated,
    ProjectStatusChanged.event_type: on_project_status_changed,
    **{event_type: on_task_event for event_type in _TASK_EVENTS},
    TaskDeleted.event_type: on_task_deleted,
    CommentCreated.event_type: on_comment_created,
    **{event_type: on_deliverable_event for event_type in _DELIVERABLE_KINDS},
    InvoiceSent.event_type: on_invoice_sent,
    InvoicePaid.event_type: on_invoice_paid,
    InvoiceVoided.event_type: on_invoice_voided,
}
