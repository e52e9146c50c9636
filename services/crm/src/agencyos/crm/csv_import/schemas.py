import uuid

from pydantic import BaseModel, Field


class ImportAccepted(BaseModel):
    job_id: uuid.UUID = Field(description="Poll `GET /v1/jobs/{job_id}` for progress")
