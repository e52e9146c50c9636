from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from agencyos.common.fields import Omittable
from agencyos.common.permissions import Role
from agencyos.identity.account.schemas import LoginResponse

TotpCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{6}$"),
    Field(description="The 6-digit code the authenticator app shows now"),
]
BackupCodeText = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=10, max_length=16, pattern=r"^[A-Za-z0-9 -]+$"
    ),
    Field(description="One of the backup codes (xxxxx-xxxxx; letter case and dash optional)"),
]


class Enrollment(BaseModel):
    secret: str = Field(description="The TOTP secret (base32), for typing into an app by hand")
    otpauth_uri: str = Field(description="The `otpauth://totp/...` URI the QR code holds")
    qr_code: str = Field(description="The QR code as a `data:image/svg+xml` URI")


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"code": "123456"}]})
    code: TotpCode


class CodeOrBackupCode(BaseModel):
    """Exactly one of `code` (the app's current code) and `backup_code`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"code": "123456"}, {"backup_code": "k3m9q-x7d2a"}]},
    )
    code: Omittable[TotpCode] = None
    backup_code: Omittable[BackupCodeText] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.code is None) == (self.backup_code is None):
            raise ValueError("send exactly one of `code` and `backup_code`")
        return self


class VerifyRequest(CodeOrBackupCode):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mfa_token": "mfa_…", "code": "123456"}]},
    )
    mfa_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class BackupCodes(BaseModel):
    backup_codes: list[str] = Field(
        description="10 single-use codes, shown this once (only their hashes are kept)"
    )


class Confirmation(LoginResponse):
    """Two-factor is on: the backup codes, and a new session signed in with both factors."""

    backup_codes: list[str] = Field(
        description="10 single-use codes, shown this once (only their hashes are kept)"
    )


class MfaRequired(BaseModel):
    """The password was right and the account has two-factor on: send a code with
    `mfa_token` to `POST /v1/auth/2fa/verify` for the tokens."""

    mfa_required: Literal[True] = True
    mfa_token: str = Field(description="Good only for POST /v1/auth/2fa/verify, once")
    expires_in: int = Field(description="Seconds the mfa_token works")


class TwoFactorStatus(BaseModel):
    enabled: bool
    enabled_at: datetime | None = None
    backup_codes_left: int


RequiredFor = (
    Literal["nobody", "everyone"] | Annotated[list[Role], Field(min_length=1, max_length=len(Role))]
)


class TwoFactorPolicy(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"required_for": "everyone"}, {"required_for": ["owner", "admin"]}]
        },
    )
    required_for: RequiredFor = Field(
        description=(
            "Who must sign in with two factors: `nobody`, `everyone`, or a list of roles. A "
            "member it names who has not enrolled gets tokens good only for enrolling."
        )
    )

    @model_validator(mode="after")
    def _unique_roles(self) -> Self:
        if isinstance(self.required_for, list) and len(set(self.required_for)) != len(
            self.required_for
        ):
            raise ValueError("each role once")
        return self
