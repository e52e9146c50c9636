import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.billing.models import Base
from agencyos.common.db import TenantScoped, utcnow

PAYMENT_METHODS = ("stripe", "bank_transfer", "cash", "other")


class Payment(TenantScoped, Base):
    """Money received for an invoice (`amount_cents` > 0) or refunded (< 0)."""

    __tablename__ = "payments"

    invoice_id: Mapped[uuid.UUID]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(255), default=None)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(String(255), default=None)
    stripe_charge_id: Mapped[str | None] = mapped_column(String(255), default=None)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
