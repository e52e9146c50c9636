import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import SingleLine

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), SingleLine
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=50, pattern=r"^[0-9+()./ -]*$")
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), SingleLine]


class ContactCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Wile E. Coyote",
                    "email": "wile@acme.example",
                    "phone": "+1 555 0100",
                    "title": "Head of Procurement",
                    "is_primary": True,
                }
            ]
        },
    )

    name: Name
    email: EmailStr | None = None
    phone: Phone | None = None
    title: Title | None = None
    is_primary: bool = False


class ContactUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"is_primary": True}]}
    )

    name: Omittable[Name] = None
    email: EmailStr | None = None
    phone: Phone | None = None
    title: Title | None = None
    is_primary: Omittable[bool] = None


class Contact(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    client_id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    title: str | None
    is_primary: bool
    created_at: datetime
    updated_at: datetime
