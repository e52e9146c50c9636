import uuid
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.notification.models import Base


class DirectoryProject(Base):
    """A project of work as its events tell it: who is on it and whose client it is."""

    __tablename__ = "projects"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(20))
    member_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(UUID(as_uuid=True)), default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(default=None)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
