from typing import Annotated

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


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"token": "pr_Jx0T2u9Qm4YwV8r1…", "new_password": "a new long passphrase"}]
        },
    )
    token: Annotated[str, Field(min_length=1, max_length=256), NoNul]
    new_password: Password
