import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.identity.models import Base


class Membership(TenantScoped, Base):
    """A user's role in one agency (tenant-owned; also visible to the user it names)."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active")
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # Per-member overrides on top of the role's set (granted first, then revoked removed).
    granted_permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    revoked_permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
