"""The audit log's event contract: one `audit.recorded` per security- or money-relevant action.

Every service records such actions in the transaction that does them (`agencyos.common.audit`),
through its outbox, on the topic `audit.events`. identity's audit consumer appends each one to
the agency's hash-chained audit log. These events are for the audit log alone: the event feed,
the live stream and outbound webhooks never carry them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from agencyos.common.events.envelope import EventPayload, register

# Who did it: a person, an API key, the platform on its own (a schedule, a consumer), or
# nobody known (a failed sign-in with an email that names someone).
ActorType = Literal["user", "api_key", "system", "anonymous"]


class FieldChange(BaseModel):
    """One changed field: its value before and after (null when it did not exist)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    before: Any = None
    after: Any = None


@register
class AuditRecorded(EventPayload):
    """`action` is `<entity>.<verb>` in the past tense (`invoice.sent`, `member.role_changed`,
    `auth.login_failed`); `entity_type` and `entity_id` what it was done to; `changes` the
    fields it changed, before and after (never a secret: a secret's change is named in
    `detail`, without its value); `detail` anything else worth keeping (a count, a reason).
    The actor's IP address, user agent and request id travel in the envelope (extensions
    `actorip`, `actoragent`, `requestid`), like on every other event."""

    event_type: ClassVar[str] = "audit.recorded"
    action: str
    entity_type: str
    entity_id: str | None = None
    actor_type: ActorType
    actor_id: str | None = None
    # What identifies the actor to a person reading the log at the time (an email, a key's
    # name): the record stays readable after the user or key is gone.
    actor_label: str | None = None
    changes: dict[str, FieldChange] = {}
    detail: dict[str, Any] = {}
