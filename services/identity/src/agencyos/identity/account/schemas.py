import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from agencyos.common.types import NoNul, SingleLine
from agencyos.identity.api_key.schemas import ApiKey

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Password = Annotated[str, Field(min_length=10, max_length=256), NoNul]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")]


class SignupRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "agency_name": "Northwind Studio",
                    "email": "ada@northwind.example",
                    "password": "correct horse battery",
                    "name": "Ada Lovelace",
                }
            ]
        },
    )
    agency_name: Name
    email: EmailStr
    password: Password
    name: Name


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"email": "ada@northwind.example", "password": "correct horse battery"}]
        },
    )
    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256), NoNul]
    agency_slug: Slug | None = None


class SwitchRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"agency_id": "0b7e5d2a-4c1f-4e8a-9d3b-2f6a1c9e8d70"}]},
    )
    agency_id: uuid.UUID


class AgencyOut(BaseModel):
    id: uuid.UUID
    slug: str
    name: str


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str


class TokenResponse(BaseModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class SignupResponse(TokenResponse):
    agency: AgencyOut
    user: UserOut


class LoginResponse(TokenResponse):
    agency: AgencyOut
    user: UserOut


class MembershipOut(BaseModel):
    agency: AgencyOut
    role: str
    status: str


class MeResponse(BaseModel):
    """The caller is a person: who they are, here and in their other agencies."""

    kind: Literal["user"] = "user"
    user: UserOut
    agency: AgencyOut
    role: str
    permissions: list[str]
    memberships: list[MembershipOut]
    # What the caller's token is limited to, if anything: "2fa_enrollment" until they enroll
    # in two-factor sign-in, which their agency requires of their role.
    restricted: str | None = None


class ApiKeyMeResponse(BaseModel):
    """The caller is an API key: which key, its agency, role and what it may do."""

    kind: Literal["api_key"] = "api_key"
    api_key: ApiKey
    agency: AgencyOut
    role: str
    permissions: list[str]


AnyMeResponse = Annotated[MeResponse | ApiKeyMeResponse, Field(discriminator="kind")]
