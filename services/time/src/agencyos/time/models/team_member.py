import uuid
from decimal import Decimal

from sqlalchemy import Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import Timestamped
from agencyos.time.models import Base

DEFAULT_WEEKLY_CAPACITY_HOURS = Decimal(40)


class TeamMember(Timestamped, Base):
    """One of the agency's people as identity announced them, with their weekly capacity."""

    __tablename__ = "team_members"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20), default="member")
    status: Mapped[str] = mapped_column(String(20), default="active")
    weekly_capacity_hours: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=DEFAULT_WEEKLY_CAPACITY_HOURS
    )
