import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class SessionPolicy(Base):
    """An agency's session policy; an agency without a row has none (no limits, any address).

    `idle_timeout_minutes`: a session (refresh-token family) unused that long is refused.
    `absolute_lifetime_hours`: a session older than that is refused however it is used.
    `ip_allowlist`: CIDR strings; empty means any address."""

    __tablename__ = "session_policies"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    idle_timeout_minutes: Mapped[int | None] = mapped_column(Integer, default=None)
    absolute_lifetime_hours: Mapped[int | None] = mapped_column(Integer, default=None)
    ip_allowlist: Mapped[list[str]] = mapped_column(ARRAY(String(49)), default=list)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
