import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from agencyos.time.entry.schemas import Description, TimeEntry


class TimerStart(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project_id": "5d8a7c3e-1f2b-4e6d-9a0c-b4e3f2a1d7c6",
                    "task_id": "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
                    "description": "Homepage wireframes",
                }
            ]
        },
    )

    project_id: uuid.UUID = Field(description="A project you are a member of, open for work")
    task_id: uuid.UUID | None = Field(default=None, description="A task of that project")
    description: Description = ""
    is_billable: bool | None = Field(
        default=None, description="Default: billable when the project is billed hourly"
    )


class Timer(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    client_id: uuid.UUID | None
    description: str
    is_billable: bool
    started_at: datetime
    elapsed_seconds: int = Field(description="Whole seconds since it started (or until it stopped)")


class TimerStopped(BaseModel):
    """What stopping a timer did."""

    timer: Timer = Field(description="The timer as it was when it stopped")
    entries: list[TimeEntry] = Field(
        description="The entries it became: one, or one per day when it ran past midnight"
    )
    discarded: bool = Field(description="True when it ran less than a second: nothing logged")
    capped: bool = Field(
        description="True when it ran longer than 12 hours: only its first 12 hours were logged"
    )
    detail: str = Field(description="What happened, in words")


class TimerStarted(BaseModel):
    timer: Timer
    stopped: TimerStopped | None = Field(
        description="The timer that was running before and was stopped (and saved) for this one"
    )
