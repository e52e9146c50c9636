from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.permissions import Role
from agencyos.common.types import Name


class RoleOut(BaseModel):
    role: Role
    permissions: list[str] = Field(description="What the role may do in this agency now")
    default_permissions: list[str] = Field(description="The platform's default set for the role")
    customized: bool = Field(description="Whether this agency tuned the role")
    tunable: bool = Field(description="False for owner: it always holds every permission")


class RolesResponse(BaseModel):
    items: list[RoleOut]
    all_permissions: list[str] = Field(description="Every permission name there is")


class RolePermissionsUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"permissions": ["agency.read", "clients.read", "invoices.read"]}]
        },
    )

    permissions: list[Name] = Field(max_length=200)
