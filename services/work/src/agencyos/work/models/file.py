import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.work.models import Base


class File(TenantScoped, Timestamped, Base):
    """A file of a project, optionally attached to one of its tasks or deliverables. The bytes
    are in object storage under `object_key` (ours, never the user's name); the row is
    `pending` from the upload's request until the upload is confirmed (`uploaded`)."""

    __tablename__ = "files"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "project_id"], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
        ),
        # The migration clears only task_id / deliverable_id when the task or deliverable is
        # deleted (SET NULL (column)): the file stays the project's.
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="SET NULL"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "deliverable_id"],
            ["deliverables.tenant_id", "deliverables.id"],
            ondelete="SET NULL",
        ),
    )

    project_id: Mapped[uuid.UUID]
    task_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    deliverable_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    shared_with_client: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    object_key: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    uploaded_by: Mapped[uuid.UUID]
    uploaded_by_client: Mapped[bool] = mapped_column(default=False)
    uploaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
