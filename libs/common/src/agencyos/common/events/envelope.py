"""The CloudEvents 1.0 envelope, the base of every payload, and the registry of payload
classes (one per event type and version)."""

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
