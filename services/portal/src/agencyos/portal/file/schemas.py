"""What a client user sees of a project's files: name, type, size, where it belongs, when.
Never the storage key nor who of the team uploaded it."""

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.peers import work as work_peer
from agencyos.common.types import SingleLine

NAME_MAX = 255
# Far above any limit a deployment sets; keeps a size an int64 (gRPC, the database).
SIZE_MAX = 2**53 - 1


class PortalFile(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    deliverable_id: uuid.UUID | None
    name: str
    content_type: str
    size: int
    status: str = Field(description="`pending` until the upload is completed, then `uploaded`")
    uploaded_by_client: bool
    created_at: datetime
    uploaded_at: datetime | None

    @classmethod
    def of(cls, f: work_peer.File) -> "PortalFile":
        return cls(
            id=f.id,
            project_id=f.project_id,
            task_id=f.task_id,
            deliverable_id=f.deliverable_id,
            name=f.name,
            content_type=f.content_type,
            size=f.size_bytes,
            status=f.status,
            uploaded_by_client=f.uploaded_by_client,
            created_at=f.created_at,
            uploaded_at=f.uploaded_at,
        )


class PortalFileDownload(BaseModel):
    """A link that serves the file for a few minutes (as an attachment with its name)."""

    url: str
    expires_at: datetime


class PortalUploadCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "screenshot.png", "content_type": "image/png", "size": 20480}]
        },
    )
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
        SingleLine,
    ]
    content_type: Annotated[
        str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=3, max_length=255)
    ]
    size: int = Field(
        ge=1, le=SIZE_MAX, description="The exact size in bytes (storage refuses any other)"
    )


class PortalUploadForm(BaseModel):
    """A multipart/form-data POST to `url`: every field of `fields` first, then the file as
    the field `file`, before `expires_at`."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class PortalUpload(BaseModel):
    file: PortalFile
    upload: PortalUploadForm
