from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.work.models.board import BoardColumn  # noqa: E402
from agencyos.work.models.deliverable import Deliverable, DeliverableDecision  # noqa: E402
from agencyos.work.models.file import File  # noqa: E402
from agencyos.work.models.milestone import Milestone  # noqa: E402
from agencyos.work.models.project import Project, ProjectMember  # noqa: E402
from agencyos.work.models.task import (  # noqa: E402
    Comment,
    Subtask,
    Task,
    TaskActivity,
    TaskDependency,
    TaskFollower,
)
from agencyos.work.models.template import ProjectTemplate  # noqa: E402

__all__ = [
    "Base",
    "BoardColumn",
    "Comment",
    "Deliverable",
    "DeliverableDecision",
    "File",
    "Milestone",
    "Project",
    "ProjectMember",
    "ProjectTemplate",
    "Subtask",
    "Task",
    "TaskActivity",
    "TaskDependency",
    "TaskFollower",
]
