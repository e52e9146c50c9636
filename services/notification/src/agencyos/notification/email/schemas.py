import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class DeliveryAttachment(BaseModel):
    """What was attached; not its link (a signed document URL)."""

    filename: str
    content_type: str


class EmailDeliveryOut(BaseModel):
    """One email's delivery, as owners and admins see it: who, what, where it stands and the
    server's last answer. Never the bodies (they may carry sign-in links)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    source_event_id: uuid.UUID
    template: str
    kind: str | None
    to_email: str
    to_name: str | None
    user_id: uuid.UUID | None
    subject: str
    attachments: list[DeliveryAttachment] = Field(default_factory=list)
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    smtp_answer: str | None
    sent_at: datetime | None
    created_at: datetime
