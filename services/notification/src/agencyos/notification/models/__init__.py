from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.notification.models.notification import Notification  # noqa: E402
from agencyos.notification.models.preference import (  # noqa: E402
    NotificationPreference,
    NotificationRoleDefault,
)

__all__ = ["Base", "Notification", "NotificationPreference", "NotificationRoleDefault"]
