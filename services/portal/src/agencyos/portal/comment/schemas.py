import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from agencyos.common.peers import work as work_peer
from agencyos.common.types import MultiLine

# work's limit on a comment's body.
BODY_MAX = 20_000

CommentBody = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=BODY_MAX), MultiLine
]


class PortalCommentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"body": "Could this be ready by Friday?"}]},
    )
    body: CommentBody


class PortalComment(BaseModel):
    """A comment the agency shares with its client (internal comments never appear)."""

    id: uuid.UUID
    task_id: uuid.UUID
    author_id: uuid.UUID
    body: str
    created_at: datetime
    updated_at: datetime
    edited: bool

    @classmethod
    def of(cls, comment: work_peer.Comment) -> "PortalComment":
        return cls(
            id=comment.id,
            task_id=comment.task_id,
            author_id=comment.author_id,
            body=comment.body,
            created_at=comment.created_at,
            updated_at=comment.updated_at,
            edited=comment.edited,
        )


class PortalComments(BaseModel):
    items: list[PortalComment]
