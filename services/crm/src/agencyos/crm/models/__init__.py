from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.crm.models.client import Client  # noqa: E402

__all__ = ["Base", "Client"]
