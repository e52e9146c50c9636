import uuid

from sqlalchemy import Boolean, ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.crm.models import Base


class Contact(TenantScoped, Timestamped, Base):
    """A person at a client. A client with contacts has exactly one primary contact."""

    __tablename__ = "contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "client_id"], ["clients.tenant_id", "clients.id"], ondelete="CASCADE"
        ),
    )

    client_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(50), default=None)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
