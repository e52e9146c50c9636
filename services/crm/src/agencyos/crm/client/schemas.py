import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import Currency, MultiLine, SingleLine

CompanyName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Tag = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), SingleLine
]
Tags = Annotated[list[Tag], Field(max_length=50)]


Industry = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), SingleLine]
Notes = Annotated[str, StringConstraints(max_length=20_000), MultiLine]
AddressLine = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SingleLine]
City = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), SingleLine]
PostalCode = Annotated[str, StringConstraints(strip_whitespace=True, max_length=20), SingleLine]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]


class ClientStatus(StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


class ClientSort(StrEnum):
    COMPANY_NAME = "company_name"
    COMPANY_NAME_DESC = "-company_name"
    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    TOTAL_REVENUE = "total_revenue_cents"
    TOTAL_REVENUE_DESC = "-total_revenue_cents"
    LAST_ACTIVITY = "last_activity_at"
    LAST_ACTIVITY_DESC = "-last_activity_at"


class ClientFields(BaseModel):
    """What a person may set on a client (create and update share it)."""

    model_config = ConfigDict(extra="forbid")

    industry: Industry | None = None
    website: HttpUrl | None = None
    tags: Tags = Field(default_factory=list)
    notes: Notes | None = None
    currency: Currency | None = None
    owner_id: uuid.UUID | None = None
    address_line1: AddressLine | None = None
    address_line2: AddressLine | None = None
    city: City | None = None
    region: City | None = None
    postal_code: PostalCode | None = None
    country: Country | None = Field(default=None, description="ISO 3166-1 alpha-2")
    external_id: ExternalId | None = Field(
        default=None, description="Your own id for the client (the CSV import matches on it)"
    )


class ClientCreate(ClientFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "company_name": "Acme Corp",
                    "industry": "Retail",
                    "status": "lead",
                    "tags": ["enterprise", "emea"],
                    "website": "https://acme.example",
                    "currency": "EUR",
                    "city": "Berlin",
                    "country": "DE",
                }
            ]
        },
    )
    company_name: CompanyName
    status: ClientStatus = ClientStatus.LEAD


class ClientUpdate(BaseModel):
    """Every field optional; only the fields sent change (null clears an optional one)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "active", "tags": ["retainer"]}]},
    )

    company_name: Omittable[CompanyName] = None
    status: Omittable[ClientStatus] = None
    industry: Industry | None = None
    website: HttpUrl | None = None
    tags: Omittable[Tags] = None
    notes: Notes | None = None
    currency: Currency | None = None
    owner_id: uuid.UUID | None = None
    address_line1: AddressLine | None = None
    address_line2: AddressLine | None = None
    city: City | None = None
    region: City | None = None
    postal_code: PostalCode | None = None
    country: Country | None = None
    external_id: ExternalId | None = None


class Client(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    company_name: str
    status: ClientStatus
    industry: str | None
    website: str | None
    tags: list[str]
    notes: str | None
    currency: str | None
    owner_id: uuid.UUID | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    region: str | None
    postal_code: str | None
    country: str | None
    external_id: str | None
    total_revenue_cents: int = Field(description="Paid invoices, from billing's events")
    last_activity_at: datetime | None = Field(description="The newest timeline entry's time")
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime


class ClientDeletion(BaseModel):
    outcome: str = Field(
        description="`deleted` when the client had no history, else `archived` (kept with "
        "status archived)"
    )
    client: Client | None
