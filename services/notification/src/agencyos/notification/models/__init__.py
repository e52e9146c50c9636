from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.notification.models.notification import Notification  # noqa: E402

__all__ = ["Base", "Notification"]
