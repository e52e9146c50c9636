import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agencyos.time.models import TeamMember

HOURS_PER_WEEK = 168

WeeklyCapacityHours = Annotated[
    Decimal,
    Field(
        ge=0,
        le=HOURS_PER_WEEK,
        max_digits=5,
        decimal_places=2,
        description="Hours a week the person is available for work (0-168, two decimals)",
    ),
]


class RosterStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REMOVED = "removed"


class CapacityUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"weekly_capacity_hours": 32}, {"weekly_capacity_hours": 0}]
        },
    )
    weekly_capacity_hours: WeeklyCapacityHours


class TeamMemberCapacity(BaseModel):
    user_id: uuid.UUID
    name: str = Field(description="As identity last announced it (empty until it has)")
    role: str
    status: RosterStatus
    weekly_capacity_hours: float = Field(description="Default 40")
    updated_at: datetime


def capacity_out(member: TeamMember) -> TeamMemberCapacity:
    return TeamMemberCapacity(
        user_id=member.user_id,
        name=member.name,
        role=member.role,
        status=RosterStatus(member.status),
        weekly_capacity_hours=float(member.weekly_capacity_hours),
        updated_at=member.updated_at,
    )
