import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, utcnow
from agencyos.time.models import Base

RATE_KINDS = ("billable", "cost")
# Most specific first: the order billable rates are resolved in.
RATE_SCOPES = ("project_member", "project", "member", "agency")


class Rate(TenantScoped, Base):
    """An hourly rate for one scope, from `effective_from` until the next one of that scope."""

    __tablename__ = "rates"

    kind: Mapped[str] = mapped_column(String(10))
    scope: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    hourly_rate_cents: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
