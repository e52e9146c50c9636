import uuid
from datetime import datetime

from sqlalchemy import DateTime, Text
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import Timestamped
from agencyos.time.models import Base


class Timer(Timestamped, Base):
    """A running timer; the primary key makes it one per person."""

    __tablename__ = "timers"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(default=uuid.uuid4)
    project_id: Mapped[uuid.UUID]
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    description: Mapped[str] = mapped_column(Text, default="")
    is_billable: Mapped[bool]
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
