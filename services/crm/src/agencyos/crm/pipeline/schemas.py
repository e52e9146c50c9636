import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import Percent, Position, SingleLine

# A pipeline holds at most this many stages (a board wider than this is not a board).
MAX_STAGES = 30

PipelineName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
StageName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
Probability = Annotated[Percent, Field(description="Win probability in percent")]


class StageKind(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class StageCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Discovery", "kind": "open", "probability": 20}]},
    )
    name: StageName
    kind: StageKind = StageKind.OPEN
    probability: Probability | None = Field(
        default=None,
        description="Required for open stages; won stages default to 100, lost ones to 0",
    )
    position: Position | None = Field(
        default=None,
        description="0-based place among the pipeline's stages (adding a stage only); "
        "default: last",
    )


class StageUpdate(BaseModel):
    """Only the fields sent change. A stage's kind changes only while no deal is in it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Proposal sent", "probability": 45}]},
    )
    name: Omittable[StageName] = None
    kind: Omittable[StageKind] = None
    probability: Omittable[Probability] = None


class Stage(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    pipeline_id: uuid.UUID
    name: str
    kind: StageKind
    probability: int
    position: int = Field(description="0-based place in the pipeline")


class PipelineStageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: StageName
    kind: StageKind = StageKind.OPEN
    probability: Probability | None = Field(
        default=None,
        description="Required for open stages; won stages default to 100, lost ones to 0",
    )


class PipelineCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Retainers",
                    "stages": [
                        {"name": "Intro call", "kind": "open", "probability": 20},
                        {"name": "Scoping", "kind": "open", "probability": 50},
                        {"name": "Signed", "kind": "won"},
                        {"name": "Declined", "kind": "lost"},
                    ],
                }
            ]
        },
    )
    name: PipelineName
    stages: list[PipelineStageCreate] = Field(
        min_length=3,
        max_length=MAX_STAGES,
        description="In board order; at least one open, one won and one lost stage",
    )


class PipelineUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "New business"}]}
    )
    name: PipelineName


class StageOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "stage_ids": [
                        "0b5e9c1e-6f0c-4c1a-9a51-1f0f7c3f2a10",
                        "6a1d0c55-3b7e-4f55-8d0e-92c4e1b1a7f2",
                        "c3f1e2d4-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
                    ]
                }
            ]
        },
    )
    stage_ids: list[uuid.UUID] = Field(
        min_length=1, description="Every stage of the pipeline, each once, in the new order"
    )


class Pipeline(BaseModel):
    id: uuid.UUID
    name: str
    is_default: bool
    stages: list[Stage] = Field(description="In board order")
    created_at: datetime
    updated_at: datetime
