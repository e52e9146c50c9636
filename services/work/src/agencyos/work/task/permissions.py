"""Typed auth dependencies for tasks, their comments and subtasks (reading them is reading
the project: agencyos.work.project.permissions.ProjectsRead), and who follows tasks."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.permissions import Role
from agencyos.common.web import require

# Members and above, on the projects they see.
TasksWrite = Annotated[Principal, require("tasks.write")]


def follows_tasks(principal: Principal) -> bool:
    """Whether the caller is someone who follows tasks: a person of the agency, not a client
    user and not an API key (neither hears about comments)."""
    return principal.role != Role.CLIENT and principal.api_key_id is None
