"""What a client user sees of its projects: names, status, progress, dates, the client-visible
tasks and the deliverables. Never rates, budgets, billing terms, members or internal tasks."""

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.peers import work as work_peer
from agencyos.common.types import MultiLine
from agencyos.portal.file.schemas import PortalFile

FEEDBACK_MAX = 50_000
# work's limit on a piece of feedback's attachments.
ATTACHMENTS_MAX = 20


class PortalMilestone(BaseModel):
    """A milestone of the project (never what completing it bills)."""

    id: uuid.UUID
    name: str
    due_date: date | None
    status: str = Field(description="`open` or `completed`")
    completed_at: datetime | None

    @classmethod
    def of(cls, milestone: work_peer.Milestone) -> "PortalMilestone":
        return cls(
            id=milestone.id,
            name=milestone.name,
            due_date=milestone.due_date,
            status=milestone.status,
            completed_at=milestone.completed_at,
        )


class PortalProject(BaseModel):
    id: uuid.UUID
    name: str
    status: str
    progress: int
    start_date: date | None
    deadline: date | None
    next_milestone: PortalMilestone | None = Field(
        description="The open milestone due first (dated ones before undated); null when none"
    )

    @classmethod
    def of(cls, project: work_peer.Project) -> "PortalProject":
        upcoming = project.next_milestone
        return cls(
            id=project.id,
            name=project.name,
            status=project.status,
            progress=project.progress,
            start_date=project.start_date,
            deadline=project.deadline,
            next_milestone=PortalMilestone.of(upcoming) if upcoming is not None else None,
        )


class PortalProjects(BaseModel):
    items: list[PortalProject]


class PortalTask(BaseModel):
    """A task of the project that the agency shows its client."""

    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    status: str
    due_date: date | None

    @classmethod
    def of(cls, task: work_peer.Task) -> "PortalTask":
        return cls(
            id=task.id,
            project_id=task.project_id,
            title=task.title,
            status=task.status,
            due_date=task.due_date,
        )


class PortalDeliverable(BaseModel):
    """A deliverable submitted to the client (`submitted`: awaiting its decision) or decided."""

    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    description: str | None
    link_url: str | None
    status: str
    submitted_at: datetime | None
    decided_at: datetime | None

    @classmethod
    def of(cls, deliverable: work_peer.Deliverable) -> "PortalDeliverable":
        return cls(
            id=deliverable.id,
            project_id=deliverable.project_id,
            title=deliverable.title,
            description=deliverable.description,
            link_url=deliverable.link_url,
            status=deliverable.status,
            submitted_at=deliverable.submitted_at,
            decided_at=deliverable.decided_at,
        )


class PortalProjectDetail(PortalProject):
    tasks: list[PortalTask]
    deliverables: list[PortalDeliverable]
    milestones: list[PortalMilestone] = Field(
        description="Every milestone of the project, by due date (undated ones last)"
    )
    files: list[PortalFile] = Field(
        description="Files shown to the client (shared, on its tasks and deliverables, or its own)"
    )


FeedbackMessage = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=FEEDBACK_MAX),
    MultiLine,
]


class FeedbackCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "project_id": "5f0c6d3e-8a57-4c3b-9a1e-2b7f4c9d1e20",
                    "message": "The logo on the landing page looks blurry on phones.",
                    "attachments": ["0b8e0d52-3f51-4f7e-9a3c-6f2f1d7c2a11"],
                }
            ]
        },
    )
    project_id: uuid.UUID
    message: FeedbackMessage
    attachments: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=ATTACHMENTS_MAX,
        description=(
            "Ids of your own completed uploads in this project (POST "
            "/v1/portal/projects/{id}/uploads, then complete): attached to the new task"
        ),
    )
