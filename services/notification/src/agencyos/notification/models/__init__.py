from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.notification.models.agency_brand import AgencyBrand  # noqa: E402
from agencyos.notification.models.email_delivery import (  # noqa: E402
    DeliveryStatus,
    EmailDelivery,
)
from agencyos.notification.models.notification import Notification  # noqa: E402

__all__ = ["AgencyBrand", "Base", "DeliveryStatus", "EmailDelivery", "Notification"]
