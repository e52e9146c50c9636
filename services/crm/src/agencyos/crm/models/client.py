import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.crm.models import Base


class Client(TenantScoped, Timestamped, Base):
    """A company the agency sells to or works for."""

    __tablename__ = "clients"

    company_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="lead")
    industry: Mapped[str | None] = mapped_column(String(100), default=None)
    website: Mapped[str | None] = mapped_column(String(500), default=None)
    notes: Mapped[str | None] = mapped_column(Text, default=None)
    currency: Mapped[str | None] = mapped_column(String(3), default=None)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_by: Mapped[uuid.UUID]
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    address_line1: Mapped[str | None] = mapped_column(String(200), default=None)
    address_line2: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str | None] = mapped_column(String(100), default=None)
    region: Mapped[str | None] = mapped_column(String(100), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(20), default=None)
    country: Mapped[str | None] = mapped_column(String(2), default=None)  # ISO 3166-1 alpha-2
    # Import key: a client imported twice with the same external_id is updated, not doubled.
    external_id: Mapped[str | None] = mapped_column(String(200), default=None)
    # Read model, fed by events: paid invoices, the newest timeline entry.
    total_revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
