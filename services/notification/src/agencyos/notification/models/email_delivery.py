import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.notification.models import Base

# Only a transaction that sets this flag sees every agency's deliveries (read only): the
# worker finds due rows with it, then claims and updates each under its own agency.
EMAIL_WORKER_SETTING = "app.email_worker"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class EmailDelivery(TenantScoped, Base):
    """One email to one recipient, rendered when queued and sent by the delivery worker.
    At most one per (agency, source event, recipient address, template)."""

    __tablename__ = "email_deliveries"

    source_event_id: Mapped[uuid.UUID]
    template: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str | None] = mapped_column(String(100), default=None)
    to_email: Mapped[str] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(String(200), default=None)
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    subject: Mapped[str] = mapped_column(String(500))
    html: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    # [{"filename", "content_type", "url"}]: fetched when the email is sent
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    unsubscribe_url: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    smtp_answer: Mapped[str | None] = mapped_column(Text, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    contains_secret: Mapped[bool] = mapped_column(Boolean, default=False)
