from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.time.models.entry import TimeEntry, TimeEntryChange  # noqa: E402
from agencyos.time.models.rate import Rate  # noqa: E402
from agencyos.time.models.team_member import TeamMember  # noqa: E402
from agencyos.time.models.timer import Timer  # noqa: E402
from agencyos.time.models.timesheet import Timesheet  # noqa: E402
from agencyos.time.models.work_project import WorkProject  # noqa: E402

__all__ = [
    "Base",
    "Rate",
    "TeamMember",
    "TimeEntry",
    "TimeEntryChange",
    "Timer",
    "Timesheet",
    "WorkProject",
]
