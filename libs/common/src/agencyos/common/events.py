"""Event contracts: the CloudEvents 1.0 envelope and one versioned payload class per event.

Producers and consumers import the same class from here; nobody copies a contract. A breaking
change to a payload is a new class with `version = 2` under the same `event_type`.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.db import utcnow

SCHEMA_BASE = "https://agencyos.dev/schemas/events/"


class EventPayload(BaseModel):
    """Base of every event payload: subclasses name their type and version."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    @classmethod
    def dataschema(cls) -> str:
        return f"{SCHEMA_BASE}{cls.event_type}/v{cls.version}"

    @classmethod
    def topic(cls) -> str:
        return cls.event_type.split(".", 1)[0] + ".events"


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode JSON envelope, with AgencyOS's `tenantid` extension
    and the distributed-tracing extension (`traceparent`, `tracestate`)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4)
    source: str
    type: str
    subject: str | None = None
    time: datetime = Field(default_factory=utcnow)
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    tenantid: uuid.UUID
    traceparent: str | None = None
    tracestate: str | None = None
    data: dict[str, Any]

    def payload(self, model: builtins.type[P]) -> P:
        """The data parsed as `model`, after checking the type and schema version match."""
        if self.type != model.event_type or self.dataschema != model.dataschema():
            raise ValueError(f"event {self.type} ({self.dataschema}) is not {model.__name__}")
        return model.model_validate(self.data)


P = TypeVar("P", bound=EventPayload)

_REGISTRY: dict[tuple[str, int], type[EventPayload]] = {}


def register(cls: type[P]) -> type[P]:
    key = (cls.event_type, cls.version)
    if key in _REGISTRY and _REGISTRY[key] is not cls:
        raise RuntimeError(f"event {key} is registered twice")
    _REGISTRY[key] = cls
    return cls


def registered_events() -> dict[tuple[str, int], type[EventPayload]]:
    return dict(_REGISTRY)


def build_event(
    payload: EventPayload,
    *,
    tenant_id: uuid.UUID,
    source_service: str,
    subject: str | None = None,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> CloudEvent:
    return CloudEvent(
        source=f"/agencyos/{source_service}",
        type=payload.event_type,
        subject=subject,
        dataschema=payload.dataschema(),
        tenantid=tenant_id,
        traceparent=traceparent,
        tracestate=tracestate,
        data=payload.model_dump(mode="json"),
    )


# --- identity -------------------------------------------------------------------------------


@register
class AgencyCreated(EventPayload):
    event_type: ClassVar[str] = "identity.agency.created"
    agency_id: uuid.UUID
    slug: str
    name: str
    owner_user_id: uuid.UUID
    currency: str
    timezone: str


@register
class MemberAdded(EventPayload):
    event_type: ClassVar[str] = "identity.member.added"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: str


@register
class AgencyUpdated(EventPayload):
    """An agency's settings changed: `changed_fields` names the ones that did; the rest of the
    payload is every setting as it is now (so a consumer needs no second lookup, and a field
    set to null is told apart from one left alone). `default_tax_rate_bps` is integer basis
    points (2000 = 20 %)."""

    event_type: ClassVar[str] = "identity.agency.updated"
    agency_id: uuid.UUID
    changed_fields: list[str]
    slug: str
    name: str
    currency: str
    timezone: str
    logo_url: str | None
    brand_color: str | None
    invoice_prefix: str
    default_tax_rate_bps: int


@register
class PasswordResetRequested(EventPayload):
    """Someone asked to reset this user's password; the notification service emails `token`.

    The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.password_reset.requested"
    user_id: uuid.UUID
    email: str
    name: str
    token: str
    expires_at: datetime


@register
class MemberRoleChanged(EventPayload):
    """A member's role changed (including an ownership transfer, which changes two)."""

    event_type: ClassVar[str] = "identity.member.role_changed"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    old_role: str
    new_role: str
    client_id: uuid.UUID | None = None
    changed_by: uuid.UUID


@register
class MemberSuspended(EventPayload):
    """A member may no longer act in the agency (their sessions there are revoked); the
    membership stays, so they can be reactivated."""

    event_type: ClassVar[str] = "identity.member.suspended"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    suspended_by: uuid.UUID


@register
class MemberReactivated(EventPayload):
    event_type: ClassVar[str] = "identity.member.reactivated"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    reactivated_by: uuid.UUID


@register
class MemberRemoved(EventPayload):
    """A membership ended (removed by someone, or the member left: `removed_by` = `user_id`)."""

    event_type: ClassVar[str] = "identity.member.removed"
    agency_id: uuid.UUID
    user_id: uuid.UUID
    role: str
    removed_by: uuid.UUID


@register
class InvitationCreated(EventPayload):
    """Someone was invited; the notification service emails `token` as the accept link.

    The token is a secret: consumers must not log or store it."""

    event_type: ClassVar[str] = "identity.invitation.created"
    agency_id: uuid.UUID
    agency_name: str
    invitation_id: uuid.UUID
    email: str
    role: str
    invited_by: uuid.UUID
    inviter_name: str
    token: str
    expires_at: datetime


# --- crm ------------------------------------------------------------------------------------


@register
class ClientCreated(EventPayload):
    event_type: ClassVar[str] = "crm.client.created"
    client_id: uuid.UUID
    company_name: str
    status: str
    owner_id: uuid.UUID | None
    created_by: uuid.UUID
