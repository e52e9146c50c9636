"""Rates as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.types import Cents, IsoDate
from agencyos.time.rate.resolver import ResolvedRate

# Fits a PostgreSQL bigint with room for duration x rate arithmetic.
HourlyCents = Annotated[Cents, Field(ge=0, le=10**12)]
RateDate = Annotated[IsoDate, Field(ge=date(1900, 1, 1), le=date(2999, 12, 31))]


class RateKind(StrEnum):
    BILLABLE = "billable"
    COST = "cost"


class RateScope(StrEnum):
    AGENCY = "agency"
    MEMBER = "member"
    PROJECT = "project"
    PROJECT_MEMBER = "project_member"


class RateCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "billable",
                    "scope": "agency",
                    "hourly_rate_cents": 12_000,
                    "effective_from": "2027-01-01",
                },
                {
                    "kind": "billable",
                    "scope": "project_member",
                    "user_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    "project_id": "3f1c2b7a-9d4e-4c6b-8a2f-5e7d9c1b0a34",
                    "hourly_rate_cents": 15_000,
                    "effective_from": "2027-01-01",
                },
                {
                    "kind": "cost",
                    "scope": "member",
                    "user_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    "hourly_rate_cents": 5_500,
                    "effective_from": "2026-12-01",
                },
            ]
        },
    )

    kind: RateKind = Field(
        description="`billable` (what the client is charged) or `cost` (what an hour costs "
        "the agency)"
    )
    scope: RateScope = Field(
        description="Who it applies to: `agency` (the default), `member` (needs `user_id`), "
        "`project` (needs `project_id`) or `project_member` (needs both). Cost rates are "
        "`agency` or `member` only."
    )
    user_id: uuid.UUID | None = Field(
        default=None, description="A member of the agency; for member and project_member"
    )
    project_id: uuid.UUID | None = Field(
        default=None, description="A project of the agency; for project and project_member"
    )
    hourly_rate_cents: HourlyCents = Field(
        description="Per hour, in minor units of the project's currency (billable) or the "
        "agency's (cost)"
    )
    effective_from: RateDate = Field(
        description="The first day it applies; it applies until the next rate of the same "
        "kind and scope takes effect"
    )


class Rate(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: RateKind
    scope: RateScope
    user_id: uuid.UUID | None
    project_id: uuid.UUID | None
    hourly_rate_cents: int
    effective_from: date
    created_by: uuid.UUID | None
    created_at: datetime


class RateSource(StrEnum):
    PROJECT_MEMBER = "project_member"
    PROJECT = "project"
    MEMBER = "member"
    AGENCY = "agency"
    NONE = "none"


class ResolvedRateOut(BaseModel):
    hourly_rate_cents: int | None = Field(description="None when no rate applies")
    source: RateSource = Field(description="The level that answered")
    rate_id: uuid.UUID | None = Field(
        description="The rate that answered; None for the project's own rate in work (its "
        "`hourly_rate_cents`) and when none applies"
    )
    effective_from: date | None = Field(description="When the answering rate took effect")

    @classmethod
    def of(cls, resolved: ResolvedRate) -> ResolvedRateOut:
        return cls(
            hourly_rate_cents=resolved.hourly_rate_cents,
            source=RateSource(resolved.source),
            rate_id=resolved.rate_id,
            effective_from=resolved.effective_from,
        )


class RateResolution(BaseModel):
    user_id: uuid.UUID
    project_id: uuid.UUID
    date: date
    currency: str = Field(description="The project's currency: what the billable rate is in")
    billable: ResolvedRateOut
    cost: ResolvedRateOut
