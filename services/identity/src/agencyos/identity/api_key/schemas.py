import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.types import SingleLine

# A key acts for the agency, never as its owner and never as a client user.
ApiKeyRole = Literal["admin", "manager", "member"]
KeyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "Zapier sync", "role": "member", "expires_in_days": 90},
                {"name": "Nightly BI export", "role": "manager", "expires_in_days": None},
            ]
        },
    )
    name: KeyName = Field(description="What the key is for, shown in the key list")
    role: ApiKeyRole = Field(
        description="What the key may do: the role's permissions as this agency has them. "
        "At most the caller's own rank (owners and admins give admin; see roles)."
    )
    expires_in_days: Literal[30, 90, 365] | None = Field(
        default=None, description="The key stops working after this many days; null: never"
    )


class ApiKey(BaseModel):
    """An API key as listed: never the key itself nor its hash."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: ApiKeyRole
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    created_by: uuid.UUID = Field(description="The user who created the key")
    expires_at: datetime | None = Field(description="When the key stops working; null: never")
    last_used_at: datetime | None = Field(
        description="When the key last authenticated a request (updated at most once a minute)"
    )
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    """The new key, with the key itself: this is the only time it is shown."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0b7f3c5e-8a41-4d2b-9f0e-6c1d2e3f4a5b",
                    "name": "Zapier sync",
                    "role": "member",
                    "prefix": "ak_Jx0T2u9Q",
                    "key": "ak_Jx0T2u9Qm4YwV8r1Kk3s5P7aZc6Ld0Fh2Gi4Nb8Oe1M."
                    "3f2c0c6e9d8b4a51a0f1b2c3d4e5f607",
                    "created_at": "2026-11-30T09:12:03Z",
                    "expires_at": "2027-02-28T09:12:03Z",
                    "last_used_at": None,
                    "created_by": "6c1d3b0e-2f4a-4d8e-9b7c-1a2b3c4d5e6f",
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    role: ApiKeyRole
    prefix: str
    key: str = Field(
        description="The key: send it as `Authorization: Bearer <key>`. Store it now; it "
        "cannot be shown again."
    )
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    created_by: uuid.UUID
