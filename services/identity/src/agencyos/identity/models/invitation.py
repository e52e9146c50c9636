import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.identity.models import Base


class Invitation(TenantScoped, Base):
    """An invitation to join an agency with a role; its token is stored only as a SHA-256.

    It ends exactly once: accepted, or revoked (or it simply expires)."""

    __tablename__ = "invitations"

    email: Mapped[str] = mapped_column(String(320))  # stored lower-cased
    role: Mapped[str] = mapped_column(String(20))
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    accepted_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
