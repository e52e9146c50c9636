import uuid
from datetime import date, datetime

from sqlalchemy import Date, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.time.models import Base

TIMESHEET_STATUSES = ("open", "submitted", "approved", "rejected")


class Timesheet(TenantScoped, Timestamped, Base):
    """One person's ISO week (`week_start` is its Monday) and where it is in approval."""

    __tablename__ = "timesheets"

    user_id: Mapped[uuid.UUID]
    week_start: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="open")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    submitted_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    rejection_reason: Mapped[str | None] = mapped_column(Text, default=None)
