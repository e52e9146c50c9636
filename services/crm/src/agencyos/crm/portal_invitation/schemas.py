import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict


class PortalInvitationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"contact_id": "5f0c6d3e-8a57-4c3b-9a1e-2b7f4c9d1e20"}]},
    )
    contact_id: uuid.UUID


class PortalInvitation(BaseModel):
    """The invitation identity made (its token went to the contact by email, never here)."""

    id: uuid.UUID
    email: str
    role: str
    client_id: uuid.UUID
    contact_id: uuid.UUID
    status: str
    invited_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
