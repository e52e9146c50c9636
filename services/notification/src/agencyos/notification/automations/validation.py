"""What a rule must be to be saved, beyond its shape: a trigger partners may receive, fields
its events have, targets its events name, templates that parse, and webhook endpoints of the
agency. Each refusal is a 422 naming the field (`actions[1].title`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.errors import InvalidInput, field_problem
from agencyos.notification.automations import templates, triggers
from agencyos.notification.automations.conditions import Op
from agencyos.notification.automations.schemas import (
    TEMPLATE_FIELDS,
    Action,
    Condition,
    CreateTaskAction,
    EmailAction,
    NotifyAction,
    TimelineEntryAction,
    ToClientPrimaryContact,
    ToEmailField,
    ToProjectManagers,
    ToProjectMembers,
    ToSubjectOwner,
    WebhookAction,
)
from agencyos.notification.models import WebhookEndpoint


class _Problems:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append(field_problem(field, message))

    def raise_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise InvalidInput(f"{first['field']}: {first['message']}", errors=self.items)


def _data_path_problem(trigger: str, path: str) -> str | None:
    """Why `path` cannot be in the trigger's events (None: it can, or cannot be known)."""
    if not path.startswith("data."):
        return None
    fields = triggers.payload_fields(trigger)
    name = path.split(".")[1]
    if fields is not None and name not in fields:
        return f"{trigger} events have no field {name!r}"
    return None


def _check_conditions(trigger: str, conditions: Sequence[Condition], problems: _Problems) -> None:
    for i, condition in enumerate(conditions):
        where = f"conditions[{i}]"
        if (why := _data_path_problem(trigger, condition.field)) is not None:
            problems.add(f"{where}.field", why)
            continue
        if condition.op is Op.IN and not isinstance(condition.value, list):
            problems.add(f"{where}.value", "`in` takes a list of values")
        if condition.op in (Op.GT, Op.LT) and not isinstance(condition.value, int | float | str):
            problems.add(f"{where}.value", f"`{condition.op}` takes a number or a string")
        if condition.op is Op.CHANGED_TO:
            name = condition.field.removeprefix("data.")
            if not condition.field.startswith("data.") or "." in name:
                problems.add(f"{where}.field", "`changed_to` takes a field of data (data.status)")
            elif not triggers.change_evidence(trigger, name):
                problems.add(
                    f"{where}.op",
                    f"{trigger} events do not say whether {name!r} changed "
                    "(no changed_fields, no value before it)",
                )


async def _check_action(
    session: AsyncSession, trigger: str, i: int, action: Action, problems: _Problems
) -> None:
    where = f"actions[{i}]"
    for name in TEMPLATE_FIELDS[action.kind]:
        source = getattr(action, name)
        if source is not None and (why := templates.syntax_error(source)) is not None:
            problems.add(f"{where}.{name}", why)
    if isinstance(action, NotifyAction):
        target = action.to
        if isinstance(target, ToSubjectOwner) and triggers.subject_owner_field(trigger) is None:
            problems.add(f"{where}.to", f"{trigger} events name no owner of their subject")
        if isinstance(target, ToProjectMembers | ToProjectManagers) and (
            triggers.project_field(trigger) is None
        ):
            problems.add(f"{where}.to", f"{trigger} events name no project")
    elif isinstance(action, EmailAction):
        email_target = action.to
        if isinstance(email_target, ToClientPrimaryContact) and not triggers.has_primary_contact(
            trigger
        ):
            problems.add(
                f"{where}.to", f"{trigger} events do not carry the client's primary contact"
            )
        if isinstance(email_target, ToEmailField) and (
            why := _data_path_problem(trigger, email_target.email_field)
        ):
            problems.add(f"{where}.to.email_field", why)
    elif isinstance(action, CreateTaskAction):
        for name in ("project_id", "assignee_id"):
            value = getattr(action, name)
            if isinstance(value, str) and (why := _data_path_problem(trigger, value)):
                problems.add(f"{where}.{name}", why)
    elif isinstance(action, TimelineEntryAction):
        if isinstance(action.client_id, str) and (
            why := _data_path_problem(trigger, action.client_id)
        ):
            problems.add(f"{where}.client_id", why)
    elif isinstance(action, WebhookAction) and not await _own_endpoint(session, action.endpoint_id):
        problems.add(f"{where}.endpoint_id", "no such webhook endpoint in this agency")


async def _own_endpoint(session: AsyncSession, endpoint_id: uuid.UUID) -> bool:
    # row-level security: only the agency's own endpoints are visible
    found = await session.scalar(
        select(WebhookEndpoint.id).where(WebhookEndpoint.id == endpoint_id)
    )
    return found is not None


async def check_rule(
    session: AsyncSession,
    trigger: str,
    conditions: Sequence[Condition],
    actions: Sequence[Action],
) -> None:
    """Raise InvalidInput naming every problem of the rule (nothing when it may be saved)."""
    problems = _Problems()
    if not triggers.is_trigger(trigger):
        problems.add("trigger", f"{trigger!r} is not an event type rules can trigger on")
        problems.raise_any()
    _check_conditions(trigger, conditions, problems)
    for i, action in enumerate(actions):
        await _check_action(session, trigger, i, action, problems)
    problems.raise_any()
