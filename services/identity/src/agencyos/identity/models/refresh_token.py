import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.identity.models import Base


class RefreshToken(TenantScoped, Base):
    """A refresh token, stored only as its SHA-256; `family_id` links rotations.

    A family is one session: the row that is neither used nor revoked (nor expired) is its
    live token; the family's first row tells when the session began."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID]
    family_id: Mapped[uuid.UUID]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_agent: Mapped[str | None] = mapped_column(Text, default=None)
    ip_address: Mapped[str | None] = mapped_column(Text, default=None)
    # How the session signed in (RFC 8176 `amr`: "pwd", "otp", "sso"), carried by every token
    # of the family; None for a session from before it was kept.
    amr: Mapped[list[str] | None] = mapped_column(ARRAY(Text), default=None)
