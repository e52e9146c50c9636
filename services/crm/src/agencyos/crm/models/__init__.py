from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.crm.models.client import Client  # noqa: E402
from agencyos.crm.models.contact import Contact  # noqa: E402
from agencyos.crm.models.deal import Deal  # noqa: E402
from agencyos.crm.models.job import Job  # noqa: E402
from agencyos.crm.models.pipeline import Pipeline, Stage  # noqa: E402
from agencyos.crm.models.timeline_entry import TimelineEntry  # noqa: E402

__all__ = ["Base", "Client", "Contact", "Deal", "Job", "Pipeline", "Stage", "TimelineEntry"]
