import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.portal.models import Base


class Activity(Base):
    """One thing that happened that a client's users may see (the dashboard's recent
    activity), kept per (agency, client) from other services' events; `id` is the event's.
    Only what a client may read is stored: never internal tasks or comments, nor a comment's
    text (a comment can be hidden from the client later without an event)."""

    __tablename__ = "activity"
    __table_args__ = (
        Index("ix_activity_client_recent", "tenant_id", "client_id", "occurred_at"),
        Index(
            "ix_activity_task",
            "tenant_id",
            "task_id",
            postgresql_where=text("task_id IS NOT NULL"),
        ),
        Index("ix_activity_project", "tenant_id", "project_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    project_name: Mapped[str | None] = mapped_column(String(200), default=None)
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    deliverable_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    # The task's or deliverable's title, or the invoice's number.
    title: Mapped[str] = mapped_column(String(300))
    # A task's status after the change.
    status: Mapped[str | None] = mapped_column(String(40), default=None)
    # A deliverable decision's or submission's comment (to or from the client), cut short.
    comment: Mapped[str | None] = mapped_column(String(500), default=None)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
