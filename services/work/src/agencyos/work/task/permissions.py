"""Typed auth dependencies for tasks, their comments and subtasks (reading them is reading
the project: agencyos.work.project.permissions.ProjectsRead)."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

# Members and above, on the projects they see.
TasksWrite = Annotated[Principal, require("tasks.write")]
