import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, HttpUrl, StringConstraints

CompanyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class ClientStatus(StrEnum):
    LEAD = "lead"
    ACTIVE = "active"
    INACTIVE = "inactive"
    ARCHIVED = "archived"


class ClientCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"company_name": "Acme Corp", "industry": "Retail", "status": "lead"}]
        },
    )
    company_name: CompanyName
    status: ClientStatus = ClientStatus.LEAD
    industry: Annotated[str, StringConstraints(max_length=100)] | None = None
    website: HttpUrl | None = None
    notes: Annotated[str, StringConstraints(max_length=20_000)] | None = None
    currency: Currency | None = None
    owner_id: uuid.UUID | None = None


class Client(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: uuid.UUID
    company_name: str
    status: ClientStatus
    industry: str | None
    website: str | None
    notes: str | None
    currency: str | None
    owner_id: uuid.UUID | None
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
