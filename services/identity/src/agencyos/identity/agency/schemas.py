import re
import uuid
import zoneinfo
from datetime import datetime
from functools import cache
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from agencyos.common.fields import Omittable
from agencyos.common.types import Currency, SingleLine
from agencyos.identity.account.schemas import Name, Slug

_URL_MAX = 2048


@cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_timezone(name: str) -> str:
    if name not in _timezones():
        raise ValueError("not an IANA time zone name (e.g. Europe/Berlin)")
    return name


def _https_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or re.search(r"\s", url):
        raise ValueError("must be an https:// URL")
    return url


Timezone = Annotated[
    str, StringConstraints(max_length=64), AfterValidator(_known_timezone), SingleLine
]
LogoUrl = Annotated[
    str, StringConstraints(max_length=_URL_MAX), AfterValidator(_https_url), SingleLine
]
BrandColor = Annotated[str, StringConstraints(pattern=r"^#[0-9A-Fa-f]{6}$")]
InvoicePrefix = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/-]{1,20}$")]
# Integer basis points: 1 bp = 0.01 %, so 2000 is 20 % and 10000 is 100 %.
TaxRateBps = Annotated[int, Field(strict=True, ge=0, le=10_000)]

_NOT_NULLABLE = (
    "name",
    "slug",
    "currency",
    "timezone",
    "invoice_prefix",
    "default_tax_rate_bps",
)


class AgencyUpdate(BaseModel):
    """The settings to change; fields left out stay as they are. `logo_url` and
    `brand_color` may be set to null to clear them; the others may not."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Northwind Studio",
                    "currency": "EUR",
                    "timezone": "Europe/Berlin",
                    "brand_color": "#1A73E8",
                    "default_tax_rate_bps": 1900,
                }
            ]
        },
    )
    name: Omittable[Name] = None
    slug: Omittable[Slug] = None
    logo_url: LogoUrl | None = None
    brand_color: BrandColor | None = None
    timezone: Omittable[Timezone] = None
    currency: Omittable[Currency] = None
    invoice_prefix: Omittable[InvoicePrefix] = None
    default_tax_rate_bps: Omittable[TaxRateBps] = Field(
        default=None, description="Default tax rate in basis points (2000 = 20 %), 0..10000"
    )

    @field_validator(*_NOT_NULLABLE, mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, but not set to null")
        return value


class Agency(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    name: str
    logo_url: str | None
    brand_color: str | None
    timezone: str
    currency: str = Field(description="ISO 4217 code")
    invoice_prefix: str
    default_tax_rate_bps: int = Field(description="Default tax rate in basis points (2000 = 20 %)")
    created_at: datetime
