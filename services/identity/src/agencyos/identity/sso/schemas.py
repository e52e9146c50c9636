from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from agencyos.common.types import NoNul, SingleLine

IssuerUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=8, max_length=2048), SingleLine
]
ClientId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255), SingleLine
]
ClientSecret = Annotated[str, Field(min_length=1, max_length=2048), NoNul]
Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=253,
        pattern=r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$",
    ),
]
# Never `owner` (owners are made by people) nor `client` (bound to one of the agency's clients).
DefaultRole = Literal["admin", "manager", "member"]


class SsoConfigurationPut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "issuer": "https://login.northwind.example/realms/staff",
                    "client_id": "agencyos",
                    "client_secret": "s3cr3t-from-the-provider",
                    "allowed_email_domains": ["northwind.example"],
                    "default_role": "member",
                    "sso_required": False,
                    "enabled": True,
                }
            ]
        },
    )
    issuer: IssuerUrl = Field(
        description="The provider's issuer URL; its discovery document "
        "(`<issuer>/.well-known/openid-configuration`) is fetched and checked when saved."
    )
    client_id: ClientId
    client_secret: ClientSecret | None = Field(
        default=None,
        description="Write-only; stored encrypted. Required the first time; omit it to keep "
        "the stored one.",
    )
    allowed_email_domains: list[Domain] = Field(
        min_length=1,
        max_length=50,
        description="Only verified emails at these domains (exactly) may sign in; a new one "
        "joins the agency with `default_role` on first sign-in.",
    )
    default_role: DefaultRole = "member"
    sso_required: bool = Field(
        default=False,
        description="Refuse password sign-in to the agency's members, owners excepted "
        "(break-glass).",
    )
    enabled: bool = True

    @field_validator("allowed_email_domains")
    @classmethod
    def _unique(cls, domains: list[str]) -> list[str]:
        return sorted(set(domains))


class SsoConfiguration(BaseModel):
    issuer: str
    client_id: str
    client_secret_set: bool = Field(description="A client secret is stored (never shown).")
    allowed_email_domains: list[str]
    default_role: str
    sso_required: bool
    enabled: bool
    redirect_uri: str = Field(description="Register this redirect URI at the provider.")
    start_url: str = Field(description="Where people start signing in to this agency.")
    updated_at: datetime | None
