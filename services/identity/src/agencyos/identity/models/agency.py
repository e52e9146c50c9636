import uuid
from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class Agency(Base):
    """A tenant. Its row is visible under its own tenant and to its members."""

    __tablename__ = "agencies"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    logo_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    brand_color: Mapped[str | None] = mapped_column(String(7), default=None)  # "#RRGGBB"
    invoice_prefix: Mapped[str] = mapped_column(String(20), default="INV-")
    # Integer basis points (2000 = 20 %): money code never touches floats.
    default_tax_rate_bps: Mapped[int] = mapped_column(Integer, default=0)
    # Who must sign in with two factors: "nobody", "everyone" or "roles" (`two_factor_roles`).
    two_factor_required: Mapped[str] = mapped_column(String(10), default="nobody")
    two_factor_roles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
