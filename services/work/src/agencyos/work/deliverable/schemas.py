import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from agencyos.common.fields import Omittable
from agencyos.common.types import MultiLine, SingleLine
from agencyos.work.models import Deliverable as DeliverableRow
from agencyos.work.models import DeliverableDecision as DecisionRow

TITLE_MAX = 300
DESCRIPTION_MAX = 50_000
COMMENT_MAX = 10_000
LINK_MAX = 2048
FILE_REF_MAX = 1024

Title = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX), SingleLine
]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX), MultiLine]
FileRef = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=FILE_REF_MAX),
    Field(description="A reference to a stored file (e.g. an object-storage key)"),
    SingleLine,
]
Comment = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX), MultiLine
]


_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def _https_only(value: str) -> str:
    try:
        url = _HTTP_URL.validate_python(value)
    except ValidationError as exc:
        raise ValueError("the link must be an absolute https URL") from exc
    if url.scheme != "https":
        raise ValueError("the link must be an https URL")
    text = str(url)
    if len(text) > LINK_MAX:
        raise ValueError(f"the link must be at most {LINK_MAX} characters")
    return text


LinkUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=LINK_MAX),
    AfterValidator(_https_only),
    Field(
        description="Where the client sees the work: an https URL",
        json_schema_extra={"format": "uri"},
    ),
    SingleLine,
]


class DeliverableStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class DecisionKind(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


class DeliverableSort(StrEnum):
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    TITLE = "title"
    TITLE_DESC = "-title"
    SUBMITTED_AT = "submitted_at"
    SUBMITTED_AT_DESC = "-submitted_at"


class DeliverableCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Homepage design",
                    "description": "Desktop and mobile mockups, second round.",
                    "link_url": "https://www.figma.com/file/abc123/homepage",
                },
                {"title": "Brand guidelines PDF", "file_ref": "deliverables/brand-v1.pdf"},
            ]
        },
    )
    title: Title
    description: Description | None = None
    link_url: LinkUrl | None = None
    file_ref: FileRef | None = None


class DeliverableUpdate(BaseModel):
    """Only the fields sent change; null clears `description`, `link_url` or `file_ref`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"link_url": "https://www.figma.com/file/abc123/homepage-v2"}]
        },
    )
    title: Omittable[Title] = None
    description: Description | None = None
    link_url: LinkUrl | None = None
    file_ref: FileRef | None = None


class DeliverableSubmit(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"comment": "Second round, with your notes applied."}]},
    )
    comment: Comment | None = Field(default=None, description="A note for the client")


class DecisionWithComment(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"comment": "Approved by Jane on the phone."}]},
    )
    comment: Comment | None = None


class ChangesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"comment": "The logo needs more contrast."}]},
    )
    comment: Comment = Field(description="What the client wants changed (required)")


class Deliverable(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str | None
    link_url: str | None
    file_ref: str | None
    status: DeliverableStatus
    submitted_at: datetime | None = Field(description="When it was last submitted")
    decided_at: datetime | None = Field(
        description="When the client decided on the current submission (null while it waits)"
    )
    created_by: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class Decision(BaseModel):
    id: uuid.UUID
    deliverable_id: uuid.UUID
    decision: DecisionKind
    comment: str | None
    actor_id: uuid.UUID | None
    occurred_at: datetime


def deliverable_out(row: DeliverableRow) -> Deliverable:
    return Deliverable(
        id=row.id,
        project_id=row.project_id,
        title=row.title,
        description=row.description,
        link_url=row.link_url,
        file_ref=row.file_ref,
        status=DeliverableStatus(row.status),
        submitted_at=row.submitted_at,
        decided_at=row.decided_at,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def decision_out(row: DecisionRow) -> Decision:
    return Decision(
        id=row.id,
        deliverable_id=row.deliverable_id,
        decision=DecisionKind(row.decision),
        comment=row.comment,
        actor_id=row.actor_id,
        occurred_at=row.occurred_at,
    )
