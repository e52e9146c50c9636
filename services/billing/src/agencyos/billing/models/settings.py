import uuid

from sqlalchemy import Integer, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.billing.models import Base
from agencyos.common.db import Timestamped

DEFAULT_PAYMENT_TERMS_DAYS = 30
DEFAULT_REMINDER_OFFSETS_DAYS = (-3, 1, 7)


class BillingSettings(Timestamped, Base):
    """An agency's billing settings; agencies without a row have the defaults."""

    __tablename__ = "billing_settings"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=DEFAULT_PAYMENT_TERMS_DAYS)
    reminder_offsets_days: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), default=lambda: list(DEFAULT_REMINDER_OFFSETS_DAYS)
    )
    sender_address: Mapped[str | None] = mapped_column(Text, default=None)
    tax_number: Mapped[str | None] = mapped_column(String(50), default=None)
    invoice_footer: Mapped[str | None] = mapped_column(Text, default=None)
