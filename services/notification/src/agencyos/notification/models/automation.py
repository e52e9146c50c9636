import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.notification.models import Base

# Only a transaction that sets this flag sees every agency's runs (read only): the automation
# worker finds runs with an action due with it, then runs each under its agency.
AUTOMATION_WORKER_SETTING = "app.automation_worker"


class AutomationRunStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # an action failed for good (the others still ran)
    SKIPPED = "skipped"  # the conditions did not hold
    STOPPED = "stopped"  # the event came from a chain of automations `automation_max_depth` deep


class AutomationRule(TenantScoped, Base):
    """When an event of type `trigger` happens and every condition holds, run the actions."""

    __tablename__ = "automation_rules"

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(String(1000), default=None)
    trigger: Mapped[str] = mapped_column(String(120))
    conditions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    recipe: Mapped[str | None] = mapped_column(String(60), default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AutomationRun(TenantScoped, Base):
    """One rule for one event (at most once), with each action's outcome."""

    __tablename__ = "automation_runs"

    rule_id: Mapped[uuid.UUID]
    event_id: Mapped[uuid.UUID]
    event_type: Mapped[str] = mapped_column(String(120))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default=AutomationRunStatus.RUNNING.value)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    note: Mapped[str | None] = mapped_column(String(500), default=None)
    event: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
