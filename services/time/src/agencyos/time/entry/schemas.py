import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from agencyos.common.fields import Omittable
from agencyos.common.types import IsoDate, MultiLine, Seconds, Timestamp
from agencyos.time.entry.rules import EARLIEST_DAY, MAX_ENTRY_SECONDS
from agencyos.time.models import TimeEntry as TimeEntryRow
from agencyos.time.models import TimeEntryChange


def not_before_earliest_day(value: Any) -> Any:
    day = value.date() if isinstance(value, datetime) else value
    if day is not None and day < EARLIEST_DAY:
        raise ValueError(f"must be on or after {EARLIEST_DAY.isoformat()}")
    return value


Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5_000), MultiLine]
Moment = Annotated[Timestamp, AfterValidator(not_before_earliest_day)]
Day = Annotated[IsoDate, AfterValidator(not_before_earliest_day)]
DurationSeconds = Annotated[Seconds, Field(ge=1, le=MAX_ENTRY_SECONDS)]


class EntryStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    INVOICED = "invoiced"


class EntrySort(StrEnum):
    DATE_DESC = "-date"
    DATE = "date"
    CREATED_AT_DESC = "-created_at"
    CREATED_AT = "created_at"


class TimeEntryCreate(BaseModel):
    """Either an interval (`started_at` and `ended_at`; the date is the agency-local day it
    starts on) or a `date` with a `duration_seconds`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    "task_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "started_at": "2026-11-24T09:00:00Z",
                    "ended_at": "2026-11-24T10:30:00Z",
                    "description": "Homepage wireframes",
                },
                {
                    "project_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    "date": "2026-11-24",
                    "duration_seconds": 5400,
                    "description": "Client call",
                    "is_billable": False,
                },
            ]
        },
    )

    project_id: uuid.UUID = Field(description="A project you are a member of, open for work")
    task_id: uuid.UUID | None = Field(default=None, description="A task of that project")
    date: Day | None = Field(
        default=None,
        description=(
            "The day (agency timezone). Required with `duration_seconds`; with an interval "
            "it may be left out, and must otherwise be the day the interval starts on."
        ),
    )
    started_at: Moment | None = Field(default=None, description="RFC 3339, with an offset")
    ended_at: Moment | None = Field(default=None, description="RFC 3339, with an offset")
    duration_seconds: DurationSeconds | None = Field(
        default=None, description="1 second to 12 hours; only without an interval"
    )
    description: Description = ""
    is_billable: bool | None = Field(
        default=None,
        description="Default: billable when the project is billed hourly",
    )


# Fields PATCH may not clear with null (they always have a value).
NOT_NULLABLE = ("project_id", "date", "description", "is_billable")


class TimeEntryUpdate(BaseModel):
    """Only the fields sent change. Send `started_at` and `ended_at` as null with a
    `duration_seconds` to turn a timed entry into a duration; send an interval to turn a
    duration into a timed entry. `task_id: null` detaches the task."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"description": "Homepage wireframes, second round"},
                {"started_at": "2026-11-24T09:15:00Z", "ended_at": "2026-11-24T10:30:00Z"},
                {"duration_seconds": 3600, "is_billable": False},
            ]
        },
    )

    project_id: Omittable[uuid.UUID] = None
    task_id: uuid.UUID | None = None
    date: Omittable[Day] = None
    started_at: Moment | None = None
    ended_at: Moment | None = None
    duration_seconds: DurationSeconds | None = None
    description: Omittable[Description] = None
    is_billable: Omittable[bool] = None

    @field_validator(*NOT_NULLABLE)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # runs only for fields sent: an explicit null is refused, naming the field
        if value is None:
            raise ValueError("cannot be null")
        return value


class TimeEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    client_id: uuid.UUID | None = Field(description="The project's client when it was logged")
    date: date
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int
    description: str
    is_billable: bool
    status: EntryStatus
    invoice_id: uuid.UUID | None
    version: int = Field(description="Bumped by every change")
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


def entry_out(entry: TimeEntryRow) -> TimeEntry:
    return TimeEntry.model_validate(entry)


class LoggedEntries(BaseModel):
    """What one logging request made: usually one entry, one per day when the interval
    crossed midnight in the agency's timezone."""

    entries: list[TimeEntry]
    split: bool = Field(description="True when the interval was split at midnight")


class EntryChange(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    entry_id: uuid.UUID
    actor_id: uuid.UUID | None = Field(description="Who made the change (None: the system)")
    action: str = Field(
        description=(
            "created, updated, deleted, submitted, approved, rejected, reserved, invoiced or "
            "released"
        )
    )
    changes: dict[str, Any] = Field(description='{"field": {"old": …, "new": …}}')
    at: datetime


def change_out(change: TimeEntryChange) -> EntryChange:
    return EntryChange.model_validate(change)
