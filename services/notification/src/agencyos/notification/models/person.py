import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.notification.models import Base


class DirectoryPerson(Base):
    """A member of an agency as identity's events tell it (notification's read model).

    Three parts change independently, each with the time of the event that last set it, so an
    older event delivered late never undoes a newer one: the profile (email, name; from
    `identity.member.added`), the access (role, client, permissions) and the status."""

    __tablename__ = "people"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    profile_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    permissions: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    access_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    status: Mapped[str] = mapped_column(String(20), default="active")
    status_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
