import uuid
from typing import Any

from sqlalchemy import Boolean, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.work.models import Base


class ProjectTemplate(TenantScoped, Timestamped, Base):
    """A project blueprint: board columns, tasks with relative due offsets, milestones.
    Creating a project from it copies them (later template edits never touch projects)."""

    __tablename__ = "project_templates"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    billing_type: Mapped[str] = mapped_column(String(20), default="hourly")
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    tasks: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
