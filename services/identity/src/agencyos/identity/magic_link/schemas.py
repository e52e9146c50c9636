from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from agencyos.common.types import NoNul

MagicLinkTokenValue = Annotated[str, Field(min_length=1, max_length=256), NoNul]


class MagicLinkRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "grace@client.example", "agency_slug": "northwind"}]
        },
    )
    email: EmailStr
    agency_slug: Annotated[str, Field(min_length=1, max_length=63), NoNul]


class MagicLinkAccepted(BaseModel):
    """The same answer whoever asks."""

    status: str = "accepted"
    detail: str = (
        "if this email belongs to a member of this agency who may sign in by email, a sign-in "
        "link is on its way"
    )


class MagicLinkVerify(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "ml_Qm4YwV8r1Jx0T2u9…"}]}
    )
    token: MagicLinkTokenValue


class MagicLinkTokenStatus(BaseModel):
    """A usable link (a refused one is answered with the verify's problem instead)."""

    valid: Literal[True] = True
    expires_at: datetime
    detail: str = "POST this token to /v1/auth/magic-link/verify to sign in"
