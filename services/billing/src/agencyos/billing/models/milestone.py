import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.billing.models import Base
from agencyos.common.db import utcnow


class BillableMilestone(Base):
    """A completed milestone with an amount (from `work.milestone.completed`); `invoice_id`
    is the invoice holding it, None while unbilled."""

    __tablename__ = "billable_milestones"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    milestone_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    completed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    invoice_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
