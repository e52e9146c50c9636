import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import SingleLine
from agencyos.work.models import File as FileRow

NAME_MAX = 255
# Far above any limit a deployment sets; keeps a size an int64 (gRPC, the database).
SIZE_MAX = 2**53 - 1
CONTENT_TYPE_MAX = 255

FileName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX),
    Field(description="The file's name as the uploader knows it (shown, and offered on download)"),
    SingleLine,
]
ContentType = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=3,
        max_length=CONTENT_TYPE_MAX,
        pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$",
    ),
    Field(description="The MIME type, one of the allowed ones (e.g. `application/pdf`)"),
]


class FileUploadRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "homepage-v2.pdf",
                    "content_type": "application/pdf",
                    "size": 482133,
                    "shared_with_client": True,
                }
            ]
        },
    )
    name: FileName
    content_type: ContentType
    size: int = Field(
        ge=1, le=SIZE_MAX, description="The exact size in bytes (S3 refuses any other)"
    )
    task_id: Omittable[uuid.UUID] = None
    deliverable_id: Omittable[uuid.UUID] = None
    shared_with_client: bool = False


class FileUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"shared_with_client": True}]}
    )
    shared_with_client: bool


class File(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    deliverable_id: uuid.UUID | None
    name: str
    content_type: str
    size: int
    status: str = Field(description="`pending` until the upload is completed, then `uploaded`")
    shared_with_client: bool
    uploaded_by: uuid.UUID
    uploaded_by_client: bool
    created_at: datetime
    uploaded_at: datetime | None


def file_out(row: FileRow) -> File:
    return File(
        id=row.id,
        project_id=row.project_id,
        task_id=row.task_id,
        deliverable_id=row.deliverable_id,
        name=row.name,
        content_type=row.content_type,
        size=row.size_bytes,
        status=row.status,
        shared_with_client=row.shared_with_client,
        uploaded_by=row.uploaded_by,
        uploaded_by_client=row.uploaded_by_client,
        created_at=row.created_at,
        uploaded_at=row.uploaded_at,
    )


class UploadForm(BaseModel):
    """A multipart/form-data POST to `url`: every field of `fields` first, then the file
    itself as the field `file`, before `expires_at`. S3 refuses another size or type."""

    url: str
    fields: dict[str, str]
    expires_at: datetime


class FileUploadTicket(BaseModel):
    file: File
    upload: UploadForm


class FileDownload(BaseModel):
    """A link that serves the file for a few minutes (as an attachment with its name)."""

    url: str
    expires_at: datetime
