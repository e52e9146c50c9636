import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.crm.models import Base

# Lets the job runner see queued jobs of every agency (a read-only policy on `jobs`).
JOB_RUNNER_SETTING = "app.job_runner"


class Job(TenantScoped, Timestamped, Base):
    """A background job (a CSV import) and its progress, readable while it runs."""

    __tablename__ = "jobs"

    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="queued")
    input: Mapped[str | None] = mapped_column(Text, default=None)
    total: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_by: Mapped[uuid.UUID]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
