import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.permissions import Role
from agencyos.common.types import Name


class Member(BaseModel):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: Literal["active", "suspended"]
    client_id: uuid.UUID | None = Field(description="For client members: the CRM client")
    permissions: list[str] = Field(description="What the member may do now, overrides applied")
    granted_permissions: list[str]
    revoked_permissions: list[str]
    joined_at: datetime
    updated_at: datetime | None


class MemberUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"role": "manager"},
                {"role": "client", "client_id": "5f0c1d7e-8a1b-4c2d-9e3f-1a2b3c4d5e6f"},
            ]
        },
    )

    role: Role
    client_id: uuid.UUID | None = Field(
        default=None, description="Required when role is client; not allowed otherwise"
    )


class PermissionOverrides(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"granted": ["invoices.read"], "revoked": ["deals.read"]}]},
    )

    granted: list[Name] = Field(default_factory=list, max_length=200)
    revoked: list[Name] = Field(default_factory=list, max_length=200)


class OwnershipTransfer(BaseModel):
    new_owner: Member
    previous_owner: Member
