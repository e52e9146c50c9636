from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.portal.models.activity import Activity  # noqa: E402
from agencyos.portal.models.directory import KnownProject, KnownTask  # noqa: E402

__all__ = ["Activity", "Base", "KnownProject", "KnownTask"]
