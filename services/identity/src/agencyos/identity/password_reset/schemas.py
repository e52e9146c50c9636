from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from agencyos.common.types import NoNul
from agencyos.identity.account.schemas import Password


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"email": "ada@northwind.example"}]}
    )
    email: EmailStr


class PasswordResetAccepted(BaseModel):
    """The same answer whether or not the email has an account."""

    status: str = "accepted"
    detail: str = "if an account with this email exists, a link to reset its password is on its way"


ResetToken = Annotated[str, Field(min_length=1, max_length=256), NoNul]


class PasswordResetTokenStatus(BaseModel):
    """A usable token (a refused one is answered with the confirm's problem instead)."""

    valid: Literal[True] = True
    expires_at: datetime


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "pr_Jx0T2u9Qm4YwV8r1…", "new_password": "a new long passphrase"}]
        },
    )
    token: ResetToken
    new_password: Password
