import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from agencyos.common.permissions import Role
from agencyos.common.types import NoNul
from agencyos.identity.account.schemas import Name


class InvitationCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"email": "grace@northwind.example", "role": "member"},
                {
                    "email": "cto@acme.example",
                    "role": "client",
                    "client_id": "5f0c1d7e-8a1b-4c2d-9e3f-1a2b3c4d5e6f",
                },
            ]
        },
    )

    email: EmailStr
    role: Role
    client_id: uuid.UUID | None = Field(
        default=None, description="Required for the client role: the CRM client it is bound to"
    )


class Invitation(BaseModel):
    id: uuid.UUID
    email: str
    role: Role
    client_id: uuid.UUID | None
    status: Literal["pending", "accepted", "revoked", "expired"]
    invited_by: uuid.UUID
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


class InvitationCreated(Invitation):
    token: str = Field(
        description="Shown only here (and emailed): the invitee accepts with it",
    )


class InvitationAccept(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Grace Hopper", "password": "a long passphrase here"},
                {"password": "the existing account's password"},
                {},
            ]
        },
    )

    name: Name | None = Field(default=None, description="For a new account")
    password: Annotated[str, Field(min_length=1, max_length=256), NoNul] | None = Field(
        default=None,
        description=(
            "A new account's password (10 characters or more), or the existing account's "
            "password. Leave both out when accepting while logged in (Authorization header)."
        ),
    )


class InvitationPreview(BaseModel):
    """What accepting the invitation would do (nothing is accepted by reading this)."""

    agency_name: str
    email: str = Field(description="The invited address: the account that joins")
    role: Role
    inviter_name: str
    expires_at: datetime
