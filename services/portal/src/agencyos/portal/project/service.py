"""The client's projects, read from work with the caller's token (work scopes every answer to
the token's client), and feedback turned into a task."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from agencyos.common.errors import NotFound
from agencyos.common.peers.work import Deliverable, File, Project, Task, WorkClient
from agencyos.portal.permissions import ClientCaller

# work's limit on a task's title; feedback's first line becomes the title.
TITLE_MAX = 300


@dataclass(frozen=True)
class ProjectView:
    project: Project
    tasks: list[Task]
    deliverables: list[Deliverable]
    files: list[File]


def feedback_title(message: str) -> str:
    """The message's first non-empty line, cut to a task title's length."""
    first = next(line.strip() for line in message.splitlines() if line.strip())
    if len(first) > TITLE_MAX:
        return first[: TITLE_MAX - 1].rstrip() + "…"
    return first


class PortalProjectService:
    async def projects(self, caller: ClientCaller, work: WorkClient) -> list[Project]:
        return await work.client_projects(caller.principal, caller.client_id)

    async def project(
        self, caller: ClientCaller, work: WorkClient, project_id: uuid.UUID
    ) -> ProjectView:
        """One call to work (the page's whole view: the project with its milestones, its
        client-visible tasks, deliverables and files). A project of another client (or agency)
        is not found."""
        view = await work.client_project_view(caller.principal, project_id)
        if view is None or view.project.client_id != caller.client_id:
            raise NotFound("no such project")
        return ProjectView(view.project, view.tasks, view.deliverables, view.files)

    async def send_feedback(
        self,
        caller: ClientCaller,
        work: WorkClient,
        project_id: uuid.UUID,
        message: str,
        attachments: list[uuid.UUID],
    ) -> Task:
        return await work.create_task_from_feedback(
            caller.principal,
            project_id,
            title=feedback_title(message),
            description=message,
            attachment_ids=attachments,
        )


portal_project_service = PortalProjectService()
