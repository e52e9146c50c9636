import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, UniqueConstraint, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.notification.models import Base


class Notification(TenantScoped, Base):
    """An in-app notification for one member, written from a platform event."""

    __tablename__ = "notifications"
    __table_args__ = (
        # One notice per event, person and kind, however often the event is delivered.
        UniqueConstraint("tenant_id", "source_event_id", "user_id", "kind"),
        Index(
            "ix_notifications_unread",
            "tenant_id",
            "user_id",
            postgresql_where=text("read_at IS NULL"),
        ),
    )

    user_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str | None] = mapped_column(String(300), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # The API path of what it is about (`/v1/tasks/<id>`), for a client to open.
    link: Mapped[str | None] = mapped_column(String(500), default=None)
    # Who did what it tells of, when a person did (none for a scheduled digest).
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    source_event_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
