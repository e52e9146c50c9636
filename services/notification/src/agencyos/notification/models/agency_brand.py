import uuid
from datetime import datetime

from sqlalchemy import DateTime, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.notification.models import Base


class AgencyBrand(Base):
    """What an agency's emails look like and which zone and currency they speak in: a read
    model of identity's agency events, one row per agency (the agency is the tenant)."""

    __tablename__ = "agency_brands"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    logo_url: Mapped[str | None] = mapped_column(Text, default=None)
    brand_color: Mapped[str | None] = mapped_column(String(20), default=None)
    timezone: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    # the time of the event the row was last written from: an older event never overwrites it
    event_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
