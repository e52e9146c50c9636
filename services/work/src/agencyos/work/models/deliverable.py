import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.work.models import Base


class Deliverable(TenantScoped, Timestamped, Base):
    """Something the agency hands the client for approval."""

    __tablename__ = "deliverables"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
    )

    project_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    link_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    file_ref: Mapped[str | None] = mapped_column(String(1024), default=None)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class DeliverableDecision(TenantScoped, Base):
    """The history of a deliverable: each submission and each client decision, with comment."""

    __tablename__ = "deliverable_decisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "deliverable_id"],
            ["deliverables.tenant_id", "deliverables.id"],
            ondelete="CASCADE",
        ),
    )

    deliverable_id: Mapped[uuid.UUID]
    decision: Mapped[str] = mapped_column(String(20))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
