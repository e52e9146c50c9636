"""What the engine knows of each trigger type: its payload's fields (from the event
contracts), the person it is about (the "subject's owner"), its project and its client.

The subject's owner, per type: a task's assignees; a client's owner; a deal's assignee; a
timesheet's author; an import's starter. Types not listed have none (a rule notifying the
subject's owner on them is refused when saved)."""

from __future__ import annotations

from collections.abc import Mapping

from agencyos.common.events import EventPayload, registered_events
from agencyos.notification.feed.catalog import RULES
from agencyos.notification.webhooks.deliveries import deliverable

_TASK_EVENTS = ("created", "updated", "moved", "completed")
SUBJECT_OWNER_FIELDS: Mapping[str, str] = {
    **{f"work.task.{what}": "assignee_ids" for what in _TASK_EVENTS},
    "work.task.assigned": "assignee_id",
    "crm.client.created": "owner_id",
    "crm.client.updated": "owner_id",
    "crm.deal.won": "assigned_to",
    "crm.deal.lost": "assigned_to",
    "crm.deal.assigned": "assigned_to",
    "time.timesheet.submitted": "user_id",
    "time.timesheet.approved": "user_id",
    "time.timesheet.rejected": "user_id",
    "crm.import.finished": "started_by",
    "crm.import.failed": "started_by",
}

# billing's invoice events carry who the invoice is addressed to: the client's primary contact
# when it was sent (`bill_to.email`).
PRIMARY_CONTACT_PATH = "data.bill_to.email"


def _payloads() -> dict[str, type[EventPayload]]:
    newest: dict[str, tuple[int, type[EventPayload]]] = {}
    for (event_type, version), cls in registered_events().items():
        if event_type not in newest or version > newest[event_type][0]:
            newest[event_type] = (version, cls)
    return {event_type: cls for event_type, (_, cls) in newest.items()}


def trigger_types() -> list[str]:
    """Every type a rule may trigger on: those partners may receive (the feed's catalog)."""
    return sorted(t for t in RULES if deliverable(t))


def is_trigger(event_type: str) -> bool:
    return event_type in RULES and deliverable(event_type)


def payload_fields(event_type: str) -> frozenset[str] | None:
    """The data fields of the type's contract (None: no contract known)."""
    cls = _payloads().get(event_type)
    return frozenset(cls.model_fields) if cls is not None else None


def subject_owner_field(event_type: str) -> str | None:
    return SUBJECT_OWNER_FIELDS.get(event_type)


def project_field(event_type: str) -> str | None:
    rule = RULES.get(event_type)
    return rule.project if rule is not None else None


def client_field(event_type: str) -> str | None:
    fields = payload_fields(event_type) or frozenset()
    return "client_id" if "client_id" in fields else None


def has_primary_contact(event_type: str) -> bool:
    return "bill_to" in (payload_fields(event_type) or frozenset())


def change_evidence(event_type: str, name: str) -> bool:
    """Whether events of the type can say that data field `name` changed: they list their
    `changed_fields`, or carry the value before (`old_status` for `new_status`,
    `from_stage` for `to_stage`)."""
    fields = payload_fields(event_type) or frozenset()
    if "changed_fields" in fields:
        return True
    for new, old in (("new_", "old_"), ("to_", "from_")):
        if name.startswith(new) and old + name.removeprefix(new) in fields:
            return True
    return False
