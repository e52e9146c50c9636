import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKeyConstraint, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.crm.models import Base

# Logged by people through the API.
MANUAL_KINDS = ("note", "call", "email", "meeting")
# Written by the platform from what happened (deals here, projects and invoices by event).
AUTOMATIC_KINDS = (
    "deal_created",
    "deal_stage_changed",
    "deal_won",
    "deal_lost",
    "project_created",
    "invoice_sent",
    "invoice_paid",
)


class TimelineEntry(TenantScoped, Base):
    """One thing that happened with a client, newest first on the client's timeline."""

    __tablename__ = "timeline_entries"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "client_id"], ["clients.tenant_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    client_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text, default=None)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
