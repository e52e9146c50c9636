import uuid
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agencyos.common.fields import Omittable
from agencyos.common.types import SingleLine
from agencyos.work.task.schemas import TaskStatus, TaskSummary

ColumnName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), SingleLine
]
Color = Annotated[
    str,
    StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$"),
    Field(description="Hex colour, `#RRGGBB`", examples=["#3B82F6"]),
]


class ColumnCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "QA", "color": "#8B5CF6", "status": "review"}],
        },
    )

    name: ColumnName
    color: Color = "#9CA3AF"
    status: TaskStatus = Field(
        description="The status of every task in the column (`done` completes tasks)"
    )


class ColumnUpdate(BaseModel):
    """Only the fields sent change. A new `status` applies to every task in the column: to
    `done` completes them, away from `done` reopens them."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Client review", "color": "#F97316"}, {"status": "done"}]
        },
    )

    name: Omittable[ColumnName] = None
    color: Omittable[Color] = None
    status: Omittable[TaskStatus] = None

    @model_validator(mode="after")
    def _no_nulls(self) -> "ColumnUpdate":
        for name in ("name", "color", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ColumnOrder(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "column_ids": [
                        "7e6d5c4b-3a29-4180-9f7e-6d5c4b3a2918",
                        "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                        "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    ]
                }
            ]
        },
    )

    column_ids: Annotated[list[uuid.UUID], Field(min_length=1, max_length=100)] = Field(
        description="Every column of the board, each once, in the new order"
    )


class Column(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    color: str
    status: TaskStatus
    position: int = Field(description="0 is the leftmost column")
    task_count: int


class Columns(BaseModel):
    project_id: uuid.UUID
    columns: list[Column]


class BoardColumn(Column):
    tasks: list[TaskSummary] = Field(description="The column's tasks, top to bottom")


class Board(BaseModel):
    project_id: uuid.UUID
    project_name: str
    columns: list[BoardColumn] = Field(description="Left to right")
