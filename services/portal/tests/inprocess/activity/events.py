"""Events as their publishers write them (work's and billing's payload classes in their
envelope), for the portal's activity read model."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from agencyos.common.events import (
    CloudEvent,
    CommentCreated,
    DeliverableApproved,
    DeliverableSubmitted,
    EventPayload,
    InvoicePaid,
    InvoiceSent,
    InvoiceVoided,
    ProjectCreated,
    ProjectUpdated,
    TaskCreated,
    TaskDeleted,
    TaskMoved,
    TaskUpdated,
    build_event,
)


def event(tenant_id: uuid.UUID, payload: EventPayload, **overrides: Any) -> CloudEvent:
    built = build_event(payload, tenant_id=tenant_id, source_service=payload.topic()[:-7])
    return built.model_copy(update=overrides) if overrides else built


@dataclass
class WorkTold:
    """What work tells of one project of an agency: the events, built in order."""

    tenant_id: uuid.UUID
    client_id: uuid.UUID | None
    name: str = "Website"
    project_id: uuid.UUID = field(default_factory=uuid.uuid4)

    def project_created(self) -> CloudEvent:
        return event(
            self.tenant_id,
            ProjectCreated(
                project_id=self.project_id,
                name=self.name,
                client_id=self.client_id,
                deal_id=None,
                created_by=None,
            ),
        )

    def project_moved_to(self, client_id: uuid.UUID | None, name: str | None = None) -> CloudEvent:
        return event(
            self.tenant_id,
            ProjectUpdated(
                project_id=self.project_id,
                changed_fields=["client_id"],
                name=name or self.name,
                client_id=client_id,
                billing_type="hourly",
                currency="USD",
                updated_by=None,
            ),
        )

    def _task(self, task_id: uuid.UUID, title: str, status: str, visible: bool) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "project_id": self.project_id,
            "title": title,
            "status": status,
            "column_id": uuid.uuid4(),
            "assignee_ids": [],
            "visible_to_client": visible,
            "task_version": 1,
            "actor_id": None,
        }

    def task_created(
        self, title: str, *, visible: bool = True, task_id: uuid.UUID | None = None
    ) -> CloudEvent:
        fields = self._task(task_id or uuid.uuid4(), title, "todo", visible)
        return event(self.tenant_id, TaskCreated(**fields))

    def task_moved(
        self, task_id: uuid.UUID, title: str, status: str, *, visible: bool = True
    ) -> CloudEvent:
        fields = self._task(task_id, title, status, visible)
        return event(self.tenant_id, TaskMoved(**fields, from_column_id=uuid.uuid4(), position=1.0))

    def task_updated(
        self, task_id: uuid.UUID, title: str, changed: list[str], *, visible: bool, status: str
    ) -> CloudEvent:
        fields = self._task(task_id, title, status, visible)
        return event(self.tenant_id, TaskUpdated(**fields, changed_fields=changed))

    def task_deleted(self, task_id: uuid.UUID, title: str) -> CloudEvent:
        return event(
            self.tenant_id,
            TaskDeleted(
                task_id=task_id,
                project_id=self.project_id,
                column_id=uuid.uuid4(),
                title=title,
                visible_to_client=True,
                actor_id=None,
            ),
        )

    def comment(self, task_id: uuid.UUID, title: str, body: str, visibility: str) -> CloudEvent:
        return event(
            self.tenant_id,
            CommentCreated(
                comment_id=uuid.uuid4(),
                task_id=task_id,
                project_id=self.project_id,
                task_title=title,
                author_id=uuid.uuid4(),
                excerpt=body,
                mentioned_user_ids=[],
                assignee_ids=[],
                follower_ids=[],
                visibility=visibility,  # type: ignore[arg-type]
            ),
        )

    def deliverable(
        self, title: str, *, approved: bool = False, comment: str | None = None
    ) -> CloudEvent:
        model = DeliverableApproved if approved else DeliverableSubmitted
        return event(
            self.tenant_id,
            model(
                deliverable_id=uuid.uuid4(),
                project_id=self.project_id,
                client_id=self.client_id,
                title=title,
                actor_id=None,
                comment=comment,
            ),
        )


def invoice_sent(
    tenant_id: uuid.UUID, client_id: uuid.UUID, number: str, total_cents: int
) -> CloudEvent:
    return event(
        tenant_id,
        InvoiceSent(
            invoice_id=uuid.uuid4(),
            client_id=client_id,
            number=number,
            total_cents=total_cents,
            currency="EUR",
            due_date=date(2027, 1, 31),
        ),
    )


def invoice_paid(sent: CloudEvent) -> CloudEvent:
    data = sent.data
    return event(
        sent.tenantid,
        InvoicePaid(
            invoice_id=data["invoice_id"],
            client_id=data["client_id"],
            number=data["number"],
            total_cents=data["total_cents"],
            amount_cents=data["total_cents"],
            currency=data["currency"],
            paid_at=datetime.now(UTC),
        ),
    )


def invoice_voided(sent: CloudEvent) -> CloudEvent:
    data = sent.data
    return event(
        sent.tenantid,
        InvoiceVoided(
            invoice_id=data["invoice_id"],
            client_id=data["client_id"],
            number=data["number"],
            reason="Sent by mistake",
            voided_at=datetime.now(UTC),
        ),
    )
