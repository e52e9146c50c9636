import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.work.models import Base


class Task(TenantScoped, Timestamped, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "column_id"],
            ["board_columns.tenant_id", "board_columns.project_id", "board_columns.id"],
        ),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "milestone_id"],
            ["milestones.tenant_id", "milestones.project_id", "milestones.id"],
        ),
    )

    project_id: Mapped[uuid.UUID]
    column_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    status: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10), default="medium")
    assignee_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    estimate_hours: Mapped[Decimal | None] = mapped_column(Numeric(8, 2), default=None)
    labels: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    milestone_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    visible_to_client: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[float] = mapped_column(Float(precision=53))
    version: Mapped[int] = mapped_column(Integer, default=1)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)


class Subtask(TenantScoped, Timestamped, Base):
    """A checklist item of a task."""

    __tablename__ = "subtasks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
    )

    task_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)


class TaskDependency(Base):
    """`task_id` is blocked by `blocked_by_id`; both in `project_id` (the keys enforce it)."""

    __tablename__ = "task_dependencies"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "task_id"],
            ["tasks.tenant_id", "tasks.project_id", "tasks.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "project_id", "blocked_by_id"],
            ["tasks.tenant_id", "tasks.project_id", "tasks.id"],
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    blocked_by_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]


class Comment(TenantScoped, Timestamped, Base):
    __tablename__ = "comments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
        CheckConstraint("visibility IN ('internal', 'client')", name="visibility_known"),
    )

    task_id: Mapped[uuid.UUID]
    author_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(Text)
    mentions: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    # `internal`: the agency's team only; `client`: also the client's users (the portal).
    visibility: Mapped[str] = mapped_column(Text, default="internal", server_default="internal")


class TaskFollower(Base):
    """A member who hears about the task's comments (its creator and commenters follow it)."""

    __tablename__ = "task_followers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    followed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class TaskActivity(TenantScoped, Base):
    """One change to a task: who, when, and each field's old and new value."""

    __tablename__ = "task_activity"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
    )

    project_id: Mapped[uuid.UUID]
    task_id: Mapped[uuid.UUID]
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(30))
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
