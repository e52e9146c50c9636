import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import Cents, Currency, IsoDate, MultiLine, Percent, Position, SingleLine
from agencyos.crm.client.schemas import ClientCreate

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
# Fits a PostgreSQL bigint with room for probability arithmetic (value x 100).
ValueCents = Annotated[Cents, Field(description="Deal value in minor units")]
Probability = Annotated[Percent, Field(description="Win probability in percent")]
Description = Annotated[str, StringConstraints(max_length=20_000), MultiLine]
StageRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    Field(description="A stage id, or a stage name of the deal's pipeline (case-insensitive)"),
    SingleLine,
]
LostReason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), MultiLine
]


class DealStatus(StrEnum):
    """The kind of the stage the deal is in."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class DealSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    UPDATED_AT = "updated_at"
    UPDATED_AT_DESC = "-updated_at"
    VALUE = "value_cents"
    VALUE_DESC = "-value_cents"
    EXPECTED_CLOSE = "expected_close_date"
    EXPECTED_CLOSE_DESC = "-expected_close_date"
    TITLE = "title"
    TITLE_DESC = "-title"


class DateField(StrEnum):
    CREATED_AT = "created_at"
    EXPECTED_CLOSE_DATE = "expected_close_date"


class ForecastGroupBy(StrEnum):
    MONTH = "month"
    STAGE = "stage"
    OWNER = "owner"


class DealCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Website relaunch",
                    "client_id": "3f1c2b7a-9d4e-4c6b-8a2f-5e7d9c1b0a34",
                    "value_cents": 1_250_000,
                    "currency": "EUR",
                    "stage": "proposal",
                    "expected_close_date": "2026-12-15",
                    "description": "Redesign and CMS migration",
                },
                {
                    "title": "Brand refresh",
                    "client": {"company_name": "Globex Ltd", "currency": "GBP"},
                    "value_cents": 800_000,
                    "probability": 25,
                },
            ]
        },
    )
    title: Title
    client_id: uuid.UUID | None = Field(
        default=None, description="An existing client; or send `client` instead"
    )
    client: ClientCreate | None = Field(
        default=None, description="A new client, created with the deal; or send `client_id`"
    )
    value_cents: ValueCents = 0
    currency: Currency | None = Field(
        default=None, description="ISO 4217; defaults to the client's currency when it has one"
    )
    pipeline_id: uuid.UUID | None = Field(
        default=None, description="Default: the agency's default pipeline"
    )
    stage: StageRef | None = Field(
        default=None,
        description="An open stage (id or name) of the pipeline; default: its first open stage",
    )
    probability: Probability | None = Field(
        default=None, description="Overrides the stage's probability while the deal is open"
    )
    expected_close_date: IsoDate | None = None
    assigned_to: uuid.UUID | None = Field(
        default=None,
        description="A member of the agency; default: the creator (none for API keys)",
    )
    description: Description | None = None
    template_id: uuid.UUID | None = Field(
        default=None, description="The project template work uses when the deal is won"
    )


class DealUpdate(BaseModel):
    """Only the fields sent change; null clears an optional field (a null `probability` makes
    the stage's apply again). The stage changes through `PUT /v1/deals/{id}/stage`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"value_cents": 1_500_000, "probability": 60}]},
    )
    title: Omittable[Title] = None
    value_cents: Omittable[ValueCents] = None
    currency: Omittable[Currency] = None
    probability: Probability | None = None
    expected_close_date: IsoDate | None = None
    assigned_to: uuid.UUID | None = None
    description: Description | None = None
    template_id: uuid.UUID | None = None


class DealMove(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"stage": "negotiation"},
                {"stage": "proposal", "before_id": "9b2f4a1c-3d5e-4f60-8a7b-1c2d3e4f5a6b"},
                {"stage": "lost", "lost_reason": "Went with an in-house team"},
            ]
        },
    )
    stage: StageRef
    position: Position | None = Field(
        default=None, description="0-based place in the stage's column (0 = top)"
    )
    before_id: uuid.UUID | None = Field(
        default=None, description="Place the deal right above this deal of the target stage"
    )
    after_id: uuid.UUID | None = Field(
        default=None, description="Place the deal right below this deal of the target stage"
    )
    lost_reason: LostReason | None = Field(
        default=None, description="Required when the deal moves to a lost stage"
    )


class Deal(BaseModel):
    id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    stage_name: str
    status: DealStatus = Field(description="The kind of the deal's stage")
    client_id: uuid.UUID
    client_name: str
    value_cents: int
    currency: str
    probability: int = Field(
        description="The probability that applies: the deal's override while it is open, "
        "else its stage's"
    )
    probability_override: int | None = Field(description="The deal's own probability, if set")
    weighted_value_cents: int = Field(
        description="value_cents x probability / 100, rounded half up"
    )
    expected_close_date: date | None
    assigned_to: uuid.UUID | None
    description: str | None
    position: float = Field(description="Order within the stage's column (ascending)")
    template_id: uuid.UUID | None
    project_id: uuid.UUID | None = Field(description="The project work made from the won deal")
    lost_reason: str | None
    closed_at: datetime | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class CurrencyTotal(BaseModel):
    currency: str
    count: int
    value_cents: int


class BoardStage(BaseModel):
    id: uuid.UUID
    name: str
    kind: DealStatus
    probability: int
    position: int
    count: int = Field(description="Deals in the stage (all of them, also past `per_stage`)")
    totals: list[CurrencyTotal] = Field(
        description="Count and value per currency (currencies are never added together)"
    )
    deals: list[Deal] = Field(description="In column order, at most `per_stage`")


class BoardPipeline(BaseModel):
    id: uuid.UUID
    name: str
    is_default: bool


class Board(BaseModel):
    pipeline: BoardPipeline
    stages: list[BoardStage]


class ForecastRow(BaseModel):
    key: str | None = Field(
        description="month: `YYYY-MM` of expected_close_date (null: no date); stage: the "
        "stage id; owner: the assigned member's id (null: unassigned)"
    )
    label: str | None = Field(description="The stage's name (group_by=stage), else the key")
    currency: str
    count: int
    value_cents: int = Field(description="Unweighted total")
    weighted_value_cents: int


class ForecastTotal(BaseModel):
    currency: str
    count: int
    value_cents: int
    weighted_value_cents: int


class Forecast(BaseModel):
    group_by: ForecastGroupBy
    rounding: str = Field(
        description="How weighted values are rounded: per deal, half up, then summed"
    )
    groups: list[ForecastRow]
    totals: list[ForecastTotal] = Field(description="Per currency")
