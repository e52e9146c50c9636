import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped, utcnow
from agencyos.time.models import Base

ENTRY_STATUSES = ("draft", "submitted", "approved", "rejected", "invoiced")
# Entries a person may still edit or delete; every other status is locked.
EDITABLE_STATUSES = ("draft", "rejected")
MAX_ENTRY_SECONDS = 12 * 3600


class TimeEntry(TenantScoped, Timestamped, Base):
    """Time one person spent on a project (optionally a task) on one day. Timed entries carry
    their interval; the database refuses two overlapping intervals of one person."""

    __tablename__ = "time_entries"

    user_id: Mapped[uuid.UUID]
    project_id: Mapped[uuid.UUID]
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    date: Mapped[date] = mapped_column(Date)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    duration_seconds: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    is_billable: Mapped[bool]
    status: Mapped[str] = mapped_column(String(20), default="draft")
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    reserved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    billable_rate_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    cost_rate_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class TimeEntryChange(TenantScoped, Base):
    """The audit trail: one row per change to an entry (`changes` is {field: {old, new}})."""

    __tablename__ = "time_entry_changes"

    entry_id: Mapped[uuid.UUID]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(20))
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
