"""Rules as the API takes and shows them: `AutomationRuleCreate`, `AutomationRuleUpdate` (all
optional), `AutomationRule`; runs (`AutomationRun`) and recipes (`Recipe`).

Shapes are checked here; what needs the agency or the trigger (a template's syntax, a
target the trigger has, the webhook endpoint's owner) is checked by the service."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.notification.automations.conditions import Op

TEXT_LIMIT = 5000
# a dotted path in the event: `data.status`, `data.bill_to.email`
Path = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$", max_length=200)
]
Title = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
Body = Annotated[str, StringConstraints(max_length=TEXT_LIMIT)]
# a literal id, or the path of the event field holding it (`data.project_id`)
IdOrPath = uuid.UUID | Annotated[str, StringConstraints(pattern=r"^data(\.[A-Za-z0-9_]+)+$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StaffRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"


class ToRole(_Shape):
    """Every active member of the agency with this role."""

    role: StaffRole


class ToPerson(_Shape):
    person_id: uuid.UUID


class ToSubjectOwner(_Shape):
    """The person the event is about (a task's assignees, a client's owner, a deal's
    assignee, a timesheet's author, an import's starter)."""

    subject_owner: Literal[True]


class ToProjectMembers(_Shape):
    """The members of the event's project (who are active staff and see it)."""

    project_members: Literal[True]


class ToProjectManagers(_Shape):
    """The event's project's managers: its members holding `projects.write`, else its
    creator."""

    project_managers: Literal[True]


class ToEmailField(_Shape):
    """The address in this field of the event (`data.bill_to.email`)."""

    email_field: Path


class ToClientPrimaryContact(_Shape):
    """The client's primary contact, as the event carries it (billing's invoice events:
    `data.bill_to.email`)."""

    client_primary_contact: Literal[True]


NotifyTarget = ToRole | ToPerson | ToSubjectOwner | ToProjectMembers | ToProjectManagers
EmailTarget = ToRole | ToPerson | ToEmailField | ToClientPrimaryContact


class NotifyAction(_Shape):
    kind: Literal["notify"]
    to: NotifyTarget
    title: Title
    body: Body | None = None
    link: Annotated[str, StringConstraints(pattern=r"^/", max_length=500)] | None = None


class EmailAction(_Shape):
    kind: Literal["email"]
    to: EmailTarget
    subject: Title
    body: Body


class CreateTaskAction(_Shape):
    kind: Literal["create_task"]
    project_id: IdOrPath
    title: Title
    description: Body | None = None
    assignee_id: IdOrPath | None = None
    due_in_days: Annotated[int, Field(ge=0, le=3650)] | None = None


class TimelineEntryAction(_Shape):
    kind: Literal["timeline_entry"]
    client_id: IdOrPath
    title: Title
    body: Body | None = None


class WebhookAction(_Shape):
    kind: Literal["webhook"]
    endpoint_id: uuid.UUID


Action = Annotated[
    NotifyAction | EmailAction | CreateTaskAction | TimelineEntryAction | WebhookAction,
    Field(discriminator="kind"),
]
# the fields of each kind that are templates
TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {
    "notify": ("title", "body", "link"),
    "email": ("subject", "body"),
    "create_task": ("title", "description"),
    "timeline_entry": ("title", "body"),
    "webhook": (),
}


class Condition(_Shape):
    field: Path
    op: Op
    value: Any = None


Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Trigger = Annotated[str, StringConstraints(min_length=1, max_length=120)]
Description = Annotated[str, StringConstraints(max_length=1000)]
Actions = Annotated[list[Action], Field(min_length=1, max_length=10)]
Conditions = Annotated[list[Condition], Field(max_length=20)]


class AutomationRuleCreate(_Shape):
    name: Name
    description: Description | None = None
    trigger: Trigger
    conditions: Conditions = []
    actions: Actions
    enabled: bool = True


class AutomationRuleUpdate(_Shape):
    """What is sent changes (the rule is checked again as a whole); `description: null`
    clears it, any other field may be left out but not null."""

    name: Omittable[Name] = None
    description: Description | None = None
    trigger: Omittable[Trigger] = None
    conditions: Omittable[Conditions] = None
    actions: Omittable[Actions] = None
    enabled: Omittable[bool] = None


class AutomationRule(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    description: str | None
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    enabled: bool
    recipe: str | None
    created_by: uuid.UUID | None
    version: int
    created_at: datetime
    updated_at: datetime


class ActionOutcome(BaseModel):
    index: int
    kind: str
    # pending (not run yet, or waiting for a retry), succeeded, failed
    status: str
    attempts: int
    detail: dict[str, Any] | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None


class AutomationRun(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    rule_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    depth: int
    status: str
    actions: list[ActionOutcome]
    note: str | None
    started_at: datetime
    finished_at: datetime | None


class Recipe(BaseModel):
    key: str
    name: str
    description: str
    trigger: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    # the agency's rule made from it, if it has one
    rule_id: uuid.UUID | None
    enabled: bool
