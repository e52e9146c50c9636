import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class RolePermissions(Base):
    """An agency's tuned permission set for one role; without a row the role's defaults apply.

    The owner role is never tuned (it always holds every permission)."""

    __tablename__ = "role_permissions"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
