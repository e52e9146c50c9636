"""The webhook endpoints API's bodies: what an owner sends, and what is shown back (never a
secret, except once when it is made)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import SingleLine
from agencyos.notification.models import WebhookDeliveryStatus

MAX_EVENT_TYPES = 50

EndpointUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=2048),
    SingleLine,
    Field(description="Where the events are POSTed: https (public addresses only)"),
]
EventTypeItem = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120), SingleLine
]
EventTypes = Annotated[
    list[EventTypeItem],
    Field(
        min_length=1,
        max_length=MAX_EVENT_TYPES,
        description=(
            "Exact event types (`billing.invoice.paid`), prefixes (`billing.invoice.*`) or `*` "
            "for every type webhooks deliver; duplicates are dropped"
        ),
    ),
]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), SingleLine]


class WebhookEndpointCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://hooks.example.com/agencyos",
                    "event_types": ["billing.invoice.*", "crm.deal.won"],
                    "description": "Accounting sync",
                }
            ]
        },
    )

    url: EndpointUrl
    event_types: EventTypes
    description: Description | None = None
    enabled: bool = True


class WebhookEndpointUpdate(BaseModel):
    """Only the fields sent change; `description: null` clears it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"event_types": ["*"]}]},
    )

    url: Omittable[EndpointUrl] = None
    event_types: Omittable[EventTypes] = None
    description: Description | None = None


class WebhookEndpointOut(BaseModel):
    """An endpoint as shown: never its secrets."""

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None = Field(
        description="`manual` (disabled by a person), `gone` (the endpoint answered 410) or "
        "`failing` (every attempt failed for 5 days); null while enabled"
    )
    disabled_at: datetime | None
    failing_since: datetime | None = Field(
        description="Since when every attempt has failed (null after any success)"
    )
    last_success_at: datetime | None
    secret_rotation_ends_at: datetime | None = Field(
        description="While a rotation's grace lasts, deliveries are signed with the previous "
        "secret too, until this time; null when no previous secret is in use"
    )
    version: int
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    secret: str = Field(
        description="The signing secret (`whsec_…`), shown this once only: store it now"
    )


class WebhookSecretRotated(BaseModel):
    secret: str = Field(description="The new signing secret (`whsec_…`), shown this once only")
    previous_secret_expires_at: datetime = Field(
        description="Until then, deliveries are signed with the previous secret too"
    )


class WebhookAttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    started_at: datetime
    url: str
    request_headers: dict[str, str]
    response_status: int | None
    response_body: str | None = Field(description="The answer's first 4 KB at most")
    latency_ms: int | None
    outcome: str = Field(description="`succeeded`, `failed` or `refused` (not a public address)")
    error: str | None


class WebhookDeliveryOut(BaseModel):
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID = Field(description="The event's id: the `webhook-id` header")
    event_type: str
    origin: str = Field(description="`live`, `test`, `replay:<replay id>` or `automation:<run id>`")
    occurred_at: datetime
    status: WebhookDeliveryStatus
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None = Field(description="Null once the delivery is finished")
    last_status_code: int | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    dead_lettered_at: datetime | None
    created_at: datetime
    attempts_detail: list[WebhookAttemptOut]


class WebhookReplayRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-12-01T00:00:00Z",
                    "until": "2026-12-02T00:00:00Z",
                    "event_types": ["billing.invoice.*"],
                }
            ]
        },
    )

    since: AwareDatetime = Field(description="From this time (RFC 3339, included)")
    until: AwareDatetime = Field(description="To this time (RFC 3339, excluded; not after now)")
    event_types: Annotated[
        list[EventTypeItem] | None,
        Field(
            min_length=1,
            max_length=MAX_EVENT_TYPES,
            description="Only these (within the endpoint's); all of the endpoint's when absent",
        ),
    ] = None


class WebhookReplayQueued(BaseModel):
    replay_id: uuid.UUID = Field(description="The deliveries' origin is `replay:<replay_id>`")
    queued: int = Field(description="How many deliveries were queued")
