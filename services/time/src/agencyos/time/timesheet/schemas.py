import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.types import MultiLine
from agencyos.time.models import TimeEntry
from agencyos.time.models import Timesheet as TimesheetRow
from agencyos.time.timesheet.week import (
    ISO_WEEK_PATTERN,
    iso_week_label,
    parse_iso_week,
    week_days,
)

SECONDS_PER_HOUR = 3600


def hours(seconds: int) -> float:
    """Seconds as hours, rounded half up to two decimals (for display; seconds are exact)."""
    exact = Decimal(seconds) / SECONDS_PER_HOUR
    return float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _valid_week(text: str) -> str:
    parse_iso_week(text)  # ValueError → 422 naming the parameter
    return text


IsoWeek = Annotated[
    str,
    StringConstraints(pattern=ISO_WEEK_PATTERN),
    AfterValidator(_valid_week),
]


class TimesheetStatus(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimesheetSort(StrEnum):
    WEEK_START = "week_start"
    WEEK_START_DESC = "-week_start"
    SUBMITTED_AT = "submitted_at"
    SUBMITTED_AT_DESC = "-submitted_at"


class TimesheetRejection(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "Thursday's 9 h on Acme look like a typo"}]},
    )
    reason: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=2000),
        MultiLine,
    ] = Field(description="What the owner should fix (sent back to them)")


class Totals(BaseModel):
    entry_count: int
    total_seconds: int
    billable_seconds: int
    non_billable_seconds: int
    total_hours: float = Field(description="Rounded to two decimals; the seconds are exact")
    billable_hours: float
    non_billable_hours: float


class DayTotals(Totals):
    date: date


class ProjectTotals(Totals):
    project_id: uuid.UUID


class TimesheetEntry(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    client_id: uuid.UUID | None
    date: date
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int
    description: str
    is_billable: bool
    status: str = Field(description="draft, submitted, approved, rejected or invoiced")
    billable_rate_cents: int | None = Field(description="Frozen when the week is approved")
    cost_rate_cents: int | None = Field(description="Frozen when the week is approved")
    currency: str | None = Field(description="The project's currency, frozen on approval")


class TimesheetSummary(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    week: str = Field(description="ISO week, e.g. 2026-W47")
    week_start: date = Field(description="The week's Monday")
    week_end: date = Field(description="The week's Sunday")
    status: TimesheetStatus
    submitted_at: datetime | None
    submitted_by: uuid.UUID | None
    decided_at: datetime | None = Field(description="When it was last approved or rejected")
    decided_by: uuid.UUID | None
    rejection_reason: str | None
    totals: Totals = Field(description="Every entry of the week, whatever its status")
    created_at: datetime
    updated_at: datetime


class Timesheet(TimesheetSummary):
    days: list[DayTotals] = Field(description="Monday to Sunday, days without time included")
    projects: list[ProjectTotals] = Field(description="Per project, most time first")
    entries: list[TimesheetEntry] = Field(description="By day, then start time")


def totals_of(entries: Iterable[TimeEntry]) -> Totals:
    count = total = billable = 0
    for entry in entries:
        count += 1
        total += entry.duration_seconds
        if entry.is_billable:
            billable += entry.duration_seconds
    return make_totals(count, total, billable)


def make_totals(count: int, total: int, billable: int) -> Totals:
    return Totals(
        entry_count=count,
        total_seconds=total,
        billable_seconds=billable,
        non_billable_seconds=total - billable,
        total_hours=hours(total),
        billable_hours=hours(billable),
        non_billable_hours=hours(total - billable),
    )


def _summary_fields(sheet: TimesheetRow, totals: Totals) -> dict[str, object]:
    return {
        "id": sheet.id,
        "user_id": sheet.user_id,
        "week": iso_week_label(sheet.week_start),
        "week_start": sheet.week_start,
        "week_end": sheet.week_start + timedelta(days=6),
        "status": TimesheetStatus(sheet.status),
        "submitted_at": sheet.submitted_at,
        "submitted_by": sheet.submitted_by,
        "decided_at": sheet.decided_at,
        "decided_by": sheet.decided_by,
        "rejection_reason": sheet.rejection_reason,
        "totals": totals,
        "created_at": sheet.created_at,
        "updated_at": sheet.updated_at,
    }


def summary_out(sheet: TimesheetRow, totals: Totals) -> TimesheetSummary:
    return TimesheetSummary.model_validate(_summary_fields(sheet, totals))


def entry_out(entry: TimeEntry) -> TimesheetEntry:
    return TimesheetEntry(
        id=entry.id,
        project_id=entry.project_id,
        task_id=entry.task_id,
        client_id=entry.client_id,
        date=entry.date,
        started_at=entry.started_at,
        ended_at=entry.ended_at,
        duration_seconds=entry.duration_seconds,
        description=entry.description,
        is_billable=entry.is_billable,
        status=entry.status,
        billable_rate_cents=entry.billable_rate_cents,
        cost_rate_cents=entry.cost_rate_cents,
        currency=entry.currency,
    )


def timesheet_out(sheet: TimesheetRow, entries: list[TimeEntry]) -> Timesheet:
    by_day: dict[date, list[TimeEntry]] = {}
    by_project: dict[uuid.UUID, list[TimeEntry]] = {}
    for entry in entries:
        by_day.setdefault(entry.date, []).append(entry)
        by_project.setdefault(entry.project_id, []).append(entry)
    days = [
        DayTotals(date=day, **totals_of(by_day.get(day, [])).model_dump())
        for day in week_days(sheet.week_start)
    ]
    projects = sorted(
        (
            ProjectTotals(project_id=project_id, **totals_of(items).model_dump())
            for project_id, items in by_project.items()
        ),
        key=lambda p: (-p.total_seconds, str(p.project_id)),
    )
    return Timesheet.model_validate(
        {
            **_summary_fields(sheet, totals_of(entries)),
            "days": days,
            "projects": projects,
            "entries": [entry_out(e) for e in entries],
        }
    )
