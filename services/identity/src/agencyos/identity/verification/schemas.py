from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.types import NoNul

VerificationToken = Annotated[str, Field(min_length=1, max_length=256), NoNul]


class VerifyEmailRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"token": "ev_q3T0v...Yw"}]}
    )
    token: VerificationToken


class EmailVerified(BaseModel):
    email: str
    email_verified: bool = True
    detail: str = (
        "your email address is verified; refresh your access token (POST /v1/auth/refresh) "
        "to act on it"
    )


class VerificationSent(BaseModel):
    status: str = "sent"
    detail: str = "a new verification link is on its way to your email address"
