import uuid
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class UtilizationGroup(StrEnum):
    MEMBER = "member"
    PROJECT = "project"


class EntryStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    INVOICED = "invoiced"


# Time that was worked counts whether or not it is approved yet; rejected time is disputed
# (it goes back to its owner to fix) and counts again once resubmitted.
DEFAULT_COUNTED_STATUSES = (
    EntryStatus.DRAFT,
    EntryStatus.SUBMITTED,
    EntryStatus.APPROVED,
    EntryStatus.INVOICED,
)
DEFAULT_OVER_BOOKED_ABOVE = 100.0
DEFAULT_UNDER_BOOKED_BELOW = 70.0


class MemberUtilization(BaseModel):
    user_id: uuid.UUID
    name: str
    role: str | None = Field(description="Null for someone the agency no longer knows")
    status: str | None = Field(description="active, suspended or removed (roster)")
    weekly_capacity_hours: float
    capacity_hours: float = Field(
        description=(
            "Weekly capacity x working days (Mon-Fri) in the range / 5; 0 for someone no "
            "longer active"
        )
    )
    logged_seconds: int
    billable_seconds: int
    logged_hours: float
    billable_hours: float
    non_billable_hours: float
    utilization_percent: float | None = Field(
        description="Logged over capacity hours, one decimal; null with no capacity"
    )
    billable_utilization_percent: float | None = Field(
        description="Billable over capacity hours, one decimal; null with no capacity"
    )
    over_booked: bool = Field(description="Utilization above the over-booked threshold")
    under_booked: bool = Field(description="Utilization below the under-booked threshold")


class ProjectUtilization(BaseModel):
    project_id: uuid.UUID
    people: int = Field(description="How many people logged time on it in the range")
    logged_seconds: int
    billable_seconds: int
    logged_hours: float
    billable_hours: float
    non_billable_hours: float
    billable_percent: float | None = Field(
        description="The billable share of the logged time, one decimal"
    )


class UtilizationTotals(BaseModel):
    people: int
    capacity_hours: float
    logged_hours: float
    billable_hours: float
    non_billable_hours: float
    utilization_percent: float | None = Field(
        description="Capacity-weighted: everyone's logged hours over everyone's capacity"
    )
    billable_utilization_percent: float | None
    over_booked: int = Field(description="How many people are over-booked")
    under_booked: int = Field(description="How many people are under-booked")


class UtilizationReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    working_days: int = Field(description="Monday to Friday days in the range")
    group_by: UtilizationGroup
    scope: str = Field(
        description="`agency`: everyone on the team; `member`: one person (`user_id`, or you)"
    )
    statuses: list[EntryStatus] = Field(description="The entry statuses counted")
    over_booked_above_percent: float
    under_booked_below_percent: float
    totals: UtilizationTotals = Field(
        description="Over the people in the report: with scope `agency`, the agency average"
    )
    members: list[MemberUtilization] | None = Field(
        default=None, description="With group_by=member: one row per person, by name"
    )
    projects: list[ProjectUtilization] | None = Field(
        default=None, description="With group_by=project: one row per project, most time first"
    )
