"""Events of one agency for the feed's tests: projects, tasks, invoices, notices, made the way
their services make them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from agencyos.common.db import utcnow
from agencyos.common.events import (
    CloudEvent,
    InvoiceSent,
    NoticeCreated,
    PasswordResetRequested,
    ProjectCreated,
    ProjectState,
    TaskCreated,
    TimeEntryLogged,
    TimesheetSubmitted,
)
from agencyos.testing.inprocess import Agency, Caller
from agencyos.testing.notices import event_of


def project_created(
    agency: Agency,
    *members: Caller,
    client_id: uuid.UUID | None = None,
    hourly_rate_cents: int | None = 12_000,
    project_id: uuid.UUID | None = None,
) -> CloudEvent:
    project_id = project_id or uuid.uuid4()
    return event_of(
        ProjectCreated(
            project_id=project_id,
            name="Website relaunch",
            client_id=client_id,
            deal_id=None,
            created_by=agency.owner.user_id,
            project=ProjectState(
                name="Website relaunch",
                client_id=client_id,
                status="active",
                billing_type="hourly",
                hourly_rate_cents=hourly_rate_cents,
                currency="EUR",
                member_ids=[agency.owner.user_id, *(m.user_id for m in members)],
                changed_at=utcnow(),
            ),
        ),
        agency.id,
        subject=f"projects/{project_id}",
    )


def project_of(event: CloudEvent) -> uuid.UUID:
    return uuid.UUID(str(event.data["project_id"]))


def task_created(
    agency: Agency,
    project_id: uuid.UUID,
    *,
    title: str = "Write the brief",
    visible_to_client: bool = True,
    assignees: tuple[Caller, ...] = (),
) -> CloudEvent:
    task_id = uuid.uuid4()
    return event_of(
        TaskCreated(
            task_id=task_id,
            project_id=project_id,
            title=title,
            status="todo",
            column_id=uuid.uuid4(),
            assignee_ids=[a.user_id for a in assignees],
            visible_to_client=visible_to_client,
            task_version=1,
            actor_id=agency.owner.user_id,
            due_date=date(2026, 12, 24),
            position=1.0,
        ),
        agency.id,
        subject=f"tasks/{task_id}",
    )


def invoice_sent(agency: Agency, client_id: uuid.UUID, total_cents: int = 50_000) -> CloudEvent:
    invoice_id = uuid.uuid4()
    return event_of(
        InvoiceSent(
            invoice_id=invoice_id,
            client_id=client_id,
            number="INV-0001",
            total_cents=total_cents,
            currency="EUR",
            due_date=date(2027, 1, 4),
            payment_url="https://pay.example/1",
        ),
        agency.id,
        subject=f"invoices/{invoice_id}",
    )


def notice_created(agency: Agency, recipient: Caller, unread_count: int = 1) -> CloudEvent:
    return event_of(
        NoticeCreated(
            notification_id=uuid.uuid4(),
            recipient_id=recipient.user_id,
            kind="task.assigned",
            title="A task was assigned to you",
            body="",
            link=None,
            actor_id=None,
            created_at=utcnow(),
            unread_count=unread_count,
        ),
        agency.id,
    )


def password_reset(agency: Agency, who: Caller) -> CloudEvent:
    return event_of(
        PasswordResetRequested(
            user_id=who.user_id,
            email="someone@agency.example",
            name="Someone",
            token="secret-reset-token",
            expires_at=utcnow(),
        ),
        agency.id,
    )


def entry_logged(
    agency: Agency, who: Caller, project_id: uuid.UUID, client_id: uuid.UUID | None = None
) -> CloudEvent:
    return event_of(
        TimeEntryLogged(
            entry_id=uuid.uuid4(),
            user_id=who.user_id,
            project_id=project_id,
            task_id=None,
            client_id=client_id,
            date=date(2026, 12, 1),
            duration_seconds=3600,
            is_billable=True,
        ),
        agency.id,
    )


def timesheet_submitted(agency: Agency, who: Caller) -> CloudEvent:
    return event_of(
        TimesheetSubmitted(
            timesheet_id=uuid.uuid4(),
            user_id=who.user_id,
            week_start=date(2026, 11, 30),
            total_seconds=3600,
            billable_seconds=3600,
        ),
        agency.id,
    )


def data_of(item: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = item["data"]
    return data
