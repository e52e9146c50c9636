import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.types import MultiLine, SingleLine, Timestamp

ManualKind = Literal["note", "call", "email", "meeting"]


class TimelineEntryCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "call",
                    "title": "Kick-off call with procurement",
                    "body": "Budget confirmed; they want a proposal by Friday.",
                    "occurred_at": "2026-11-27T15:30:00Z",
                }
            ]
        },
    )

    kind: ManualKind
    title: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), SingleLine
    ]
    body: Annotated[str, StringConstraints(max_length=20_000), MultiLine] | None = None
    occurred_at: Timestamp | None = Field(
        default=None, description="When it happened (not in the future); default now"
    )


class TimelineEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    kind: str = Field(
        description="note, call, email, meeting (logged by people) or deal_created, "
        "deal_stage_changed, deal_won, deal_lost, project_created, invoice_sent, invoice_paid "
        "(written by the platform)"
    )
    title: str
    body: str | None
    occurred_at: datetime
    actor_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: datetime
