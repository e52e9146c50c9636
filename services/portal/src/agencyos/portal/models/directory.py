import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.portal.models import Base


class KnownProject(Base):
    """A project of work as its events tell it: whose client it is (whose activity its tasks
    are) and its name; the newest state wins (`as_of`)."""

    __tablename__ = "known_projects"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    name: Mapped[str] = mapped_column(String(200))
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KnownTask(Base):
    """A task of work as its events tell it: its project, status and whether the client sees
    it (a status change is told once, however many events a move publishes)."""

    __tablename__ = "known_tasks"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    project_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(40))
    visible_to_client: Mapped[bool] = mapped_column(Boolean)
