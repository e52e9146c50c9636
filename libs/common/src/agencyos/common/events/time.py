"""time's event contracts."""

from __future__ import annotations

import uuid
from datetime import date
from typing import ClassVar

from agencyos.common.events.envelope import EventPayload, register


@register
class TimeEntryLogged(EventPayload):
    """A time entry was created (by hand, from a stopped timer, or one day of a split)."""

    event_type: ClassVar[str] = "time.entry.logged"
    entry_id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    client_id: uuid.UUID | None
    date: date
    duration_seconds: int
    is_billable: bool


@register
class TimesheetSubmitted(EventPayload):
    event_type: ClassVar[str] = "time.timesheet.submitted"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    total_seconds: int
    billable_seconds: int


@register
class TimesheetApproved(EventPayload):
    """A week's entries are approved; billable ones can now be invoiced."""

    event_type: ClassVar[str] = "time.timesheet.approved"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    approved_by: uuid.UUID
    entry_ids: list[uuid.UUID]
    total_seconds: int
    billable_seconds: int


@register
class TimesheetRejected(EventPayload):
    """A week went back to its owner to fix (`reason` says why)."""

    event_type: ClassVar[str] = "time.timesheet.rejected"
    timesheet_id: uuid.UUID
    user_id: uuid.UUID
    week_start: date
    rejected_by: uuid.UUID
    reason: str


@register
class TimeEntriesInvoiced(EventPayload):
    event_type: ClassVar[str] = "time.entries.invoiced"
    invoice_id: uuid.UUID
    entry_ids: list[uuid.UUID]
    total_seconds: int
