import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKeyConstraint, Numeric, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.work.models import Base


class Project(TenantScoped, Timestamped, Base):
    """Work for a client; `deal_id` is set (and unique) when a won deal started it."""

    __tablename__ = "projects"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    deal_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    template_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20), default="planning")
    billing_type: Mapped[str] = mapped_column(String(20), default="hourly")
    hourly_rate_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    budget_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    budget_hours: Mapped[Decimal | None] = mapped_column(Numeric(10, 2), default=None)
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    deadline: Mapped[date | None] = mapped_column(Date, default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class ProjectMember(Base):
    """A member with access to a project (managers and above see every project anyway)."""

    __tablename__ = "project_members"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    added_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
