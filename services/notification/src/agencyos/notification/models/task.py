import uuid
from datetime import date

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.notification.models import Base


class DirectoryTask(Base):
    """A task of work as its events tell it (the newest `task_version` wins)."""

    __tablename__ = "tasks"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    assignee_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    due_date: Mapped[date | None] = mapped_column(Date, default=None)
    visible_to_client: Mapped[bool] = mapped_column(Boolean, default=False)
    task_version: Mapped[int] = mapped_column(Integer)
