import uuid
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, DateTime, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.time.models import Base


class WorkProject(Base):
    """A project of work's as time knows it from work's events (`project` state of every
    work.project.* event): what invoicing needs without asking work on every run.
    `as_of` is when work changed it; an older event never overwrites a newer state."""

    __tablename__ = "work_projects"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20))
    billing_type: Mapped[str] = mapped_column(String(20))
    hourly_rate_cents: Mapped[int | None] = mapped_column(BigInteger, default=None)
    currency: Mapped[str] = mapped_column(String(3))
    member_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
