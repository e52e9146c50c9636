import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.crm.models import Base


class Deal(TenantScoped, Timestamped, Base):
    """A sales opportunity with a client, moving through a pipeline's stages."""

    __tablename__ = "deals"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "client_id"], ["clients.tenant_id", "clients.id"]),
        ForeignKeyConstraint(["tenant_id", "stage_id"], ["stages.tenant_id", "stages.id"]),
        ForeignKeyConstraint(["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"]),
    )

    pipeline_id: Mapped[uuid.UUID]
    stage_id: Mapped[uuid.UUID]
    client_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(200))
    value_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    # None: the stage's probability applies.
    probability: Mapped[int | None] = mapped_column(Integer, default=None)
    expected_close_date: Mapped[date | None] = mapped_column(Date, default=None)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(default=None)
    description: Mapped[str | None] = mapped_column(Text, default=None)
    # Kanban order within the stage (fractional: a move writes one row).
    position: Mapped[float] = mapped_column(Float(precision=53), default=0.0)
    template_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    project_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    lost_reason: Mapped[str | None] = mapped_column(Text, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_by: Mapped[uuid.UUID]
