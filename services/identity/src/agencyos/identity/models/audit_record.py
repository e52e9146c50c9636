import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped
from agencyos.identity.models import Base


class AuditRecord(TenantScoped, Base):
    """One entry of an agency's audit log, appended by the audit worker from an
    `audit.recorded` event and never changed: the application role may only SELECT and INSERT
    (`append_only`, agencyos.common.migrations.grant_app_role). `seq` counts the agency's
    records from 1 without gaps; `hash` chains each record to the one before
    (agencyos.identity.audit.chain)."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        UniqueConstraint("event_id"),
        {"info": {"append_only": True}},
    )

    seq: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(Text)
    actor_label: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(200))
    entity_type: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str | None] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSONB)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(Text)
    user_agent: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(Text)
    source_service: Mapped[str] = mapped_column(String(50))
    event_id: Mapped[uuid.UUID] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Where an agency's audit chain ends: its last `seq` and `hash`. Appending locks this row
    (FOR UPDATE), so concurrent appenders of one agency take turns and the chain stays one."""

    __tablename__ = "audit_heads"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))
