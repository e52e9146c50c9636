import uuid

from sqlalchemy import Boolean, ForeignKeyConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.common.db import TenantScoped, Timestamped
from agencyos.crm.models import Base


class Pipeline(TenantScoped, Timestamped, Base):
    """A sales pipeline; each agency gets a default one when it is created."""

    __tablename__ = "pipelines"

    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class Stage(TenantScoped, Timestamped, Base):
    """A pipeline stage, typed `open`, `won` or `lost`, with a default win probability."""

    __tablename__ = "stages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["pipelines.tenant_id", "pipelines.id"],
            ondelete="CASCADE",
        ),
    )

    pipeline_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    probability: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
