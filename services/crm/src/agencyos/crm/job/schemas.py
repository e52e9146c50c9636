import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobError(BaseModel):
    row: int | None = Field(
        description="1-based data row number (the header is not counted); null for a problem "
        "with the whole job"
    )
    field: str | None = Field(description="The column the problem is in, if one")
    message: str


class Job(BaseModel):
    """A background job and its progress; `processed` moves while it runs."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="`client_import`")
    status: JobStatus
    processed: int = Field(description="Rows handled so far (imported or rejected)")
    total: int = Field(description="Data rows in the file")
    created: int = Field(description="Clients created")
    updated: int = Field(description="Existing clients updated")
    errors: list[JobError] = Field(description="One entry per problem; those rows were skipped")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
