import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.notification.models import Base


class FeedHead(Base):
    """One agency's feed position: the last `seq` given out, and up to which `seq` retention
    has deleted (a cursor at or below it answers 410)."""

    __tablename__ = "feed_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    pruned_through: Mapped[int] = mapped_column(BigInteger, default=0)


class FeedEvent(Base):
    """One event of the agency's feed, with who may read it (see feed.visibility)."""

    __tablename__ = "feed_events"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[uuid.UUID]
    type: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    permission: Mapped[str | None] = mapped_column(String(60), default=None)
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    person_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    personal: Mapped[bool] = mapped_column(Boolean, default=False)
    client_visible: Mapped[bool] = mapped_column(Boolean, default=False)
    envelope: Mapped[dict[str, Any]] = mapped_column(JSONB)
