"""crm's event contracts."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import ClassVar, Literal

from agencyos.common.events.envelope import EventPayload, register


@register
class ClientCreated(EventPayload):
    event_type: ClassVar[str] = "crm.client.created"
    client_id: uuid.UUID
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    created_by: uuid.UUID


@register
class ClientUpdated(EventPayload):
    """A client changed: `changed_fields` names what did; the rest is the client as it is now."""

    event_type: ClassVar[str] = "crm.client.updated"
    client_id: uuid.UUID
    changed_fields: list[str]
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    currency: str | None
    updated_by: uuid.UUID


@register
class ClientDeleted(EventPayload):
    """A client with no history was deleted (one with history is archived instead)."""

    event_type: ClassVar[str] = "crm.client.deleted"
    client_id: uuid.UUID
    deleted_by: uuid.UUID


@register
class DealStageChanged(EventPayload):
    """A deal moved to another stage (every move, including to won or lost)."""

    event_type: ClassVar[str] = "crm.deal.stage_changed"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    from_stage_id: uuid.UUID
    from_stage: str
    to_stage_id: uuid.UUID
    to_stage: str
    to_stage_kind: Literal["open", "won", "lost"]
    value_cents: int
    currency: str
    changed_by: uuid.UUID


@register
class DealWon(EventPayload):
    """A deal reached a won stage: everything work needs to start its project."""

    event_type: ClassVar[str] = "crm.deal.won"
    deal_id: uuid.UUID
    title: str
    description: str | None
    client_id: uuid.UUID
    client_name: str
    value_cents: int
    currency: str
    # The project template chosen on the deal; None: the agency's default template.
    template_id: uuid.UUID | None
    assigned_to: uuid.UUID | None
    expected_close_date: date | None
    won_at: datetime
    won_by: uuid.UUID


@register
class DealLost(EventPayload):
    event_type: ClassVar[str] = "crm.deal.lost"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    value_cents: int
    currency: str
    lost_reason: str
    lost_at: datetime
    lost_by: uuid.UUID
    assigned_to: uuid.UUID | None = None


@register
class DealDeleted(EventPayload):
    """A deal was deleted: a pipeline board drops its card from `stage_id`."""

    event_type: ClassVar[str] = "crm.deal.deleted"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    pipeline_id: uuid.UUID
    stage_id: uuid.UUID
    deleted_by: uuid.UUID


@register
class DealAssigned(EventPayload):
    """A deal got an assignee (when it was created with one, or when it changed hands)."""

    event_type: ClassVar[str] = "crm.deal.assigned"
    deal_id: uuid.UUID
    client_id: uuid.UUID
    title: str
    value_cents: int
    currency: str
    assigned_to: uuid.UUID
    assigned_by: uuid.UUID


@register
class ImportFinished(EventPayload):
    """A CSV import ran to its end (rows it could not take are counted in `failed`)."""

    event_type: ClassVar[str] = "crm.import.finished"
    job_id: uuid.UUID
    kind: str
    started_by: uuid.UUID
    total: int
    created: int
    updated: int
    failed: int


@register
class ImportFailed(EventPayload):
    """A CSV import gave up (every attempt failed, or the file could not be read)."""

    event_type: ClassVar[str] = "crm.import.failed"
    job_id: uuid.UUID
    kind: str
    started_by: uuid.UUID
    error: str
