import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.types import NoNul

RefreshTokenText = Annotated[str, Field(min_length=1, max_length=256), NoNul]


class RefreshRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "refresh_token": "rt_3f2c0c6e9d8b4a51a0f1b2c3d4e5f607."
                    "Jx0T2u9Qm4YwV8r1Kk3s5P7aZc6Ld0Fh2Gi4Nb8Oe1M"
                }
            ]
        },
    )
    refresh_token: RefreshTokenText


class LogoutRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"refresh_token": "rt_3f2c…"}]},
    )
    refresh_token: RefreshTokenText | None = None


class Session(BaseModel):
    """One signed-in device or client: a refresh-token family."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "6c1d3b0e-2f4a-4d8e-9b7c-1a2b3c4d5e6f",
                    "created_at": "2026-11-21T09:12:03Z",
                    "last_used_at": "2026-11-21T13:40:11Z",
                    "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)",
                    "ip_address": "203.0.113.7",
                    "current": True,
                }
            ]
        }
    )
    id: uuid.UUID = Field(description="The session id (the refresh-token family)")
    created_at: datetime = Field(description="When the session began (login or switch)")
    last_used_at: datetime = Field(description="When its refresh token was last issued")
    user_agent: str | None
    ip_address: str | None
    current: bool = Field(description="Whether the calling access token belongs to it")
