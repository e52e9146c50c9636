"""The audit log in tests: `audit.recorded` events as a service's outbox would carry them,
handed to identity's audit worker without Kafka, and the chain recomputed the way the docs
tell an auditor to (independently of identity's own code)."""

from __future__ import annotations

import hashlib
import importlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord

from agencyos.common.consumer import ConsumerRunner
from agencyos.common.events import CloudEvent, build_event
from agencyos.common.events.audit import AuditRecorded, FieldChange
from agencyos.testing.inprocess import ServiceInProcess

GENESIS = "0" * 64
HASHED = (
    "tenant_id",
    "seq",
    "id",
    "event_id",
    "occurred_at",
    "recorded_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "changes",
    "detail",
    "ip",
    "user_agent",
    "request_id",
    "source_service",
)


def audit_event(
    tenant_id: uuid.UUID,
    *,
    action: str = "api_key.created",
    entity_type: str = "api_key",
    entity_id: str | None = None,
    actor_type: str = "user",
    actor_id: str | None = None,
    actor_label: str | None = "someone@example.com",
    changes: Mapping[str, tuple[Any, Any]] | None = None,
    detail: Mapping[str, Any] | None = None,
    source_service: str = "identity",
    ip: str | None = "203.0.113.7",
    user_agent: str | None = "pytest-agent/1.0",
    request_id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """An `audit.recorded` envelope as `record_audit` would write it, with the actor context
    extensions of the request that did it."""
    payload = AuditRecorded(
        action=action,
        entity_type=entity_type,
        entity_id=entity_id if entity_id is not None else str(uuid.uuid4()),
        actor_type=actor_type,
        actor_id=actor_id if actor_id is not None else str(uuid.uuid4()),
        actor_label=actor_label,
        changes={k: FieldChange(before=b, after=a) for k, (b, a) in (changes or {}).items()},
        detail=dict(detail or {}),
    )
    event = build_event(payload, tenant_id=tenant_id, source_service=source_service)
    if time is not None:
        event.time = time
    extensions = {"actorip": ip, "actoragent": user_agent, "requestid": request_id}
    for name, value in extensions.items():
        if value is not None:
            setattr(event, name, value)
    return event


class AuditWriter:
    """identity's audit worker (its consumer runner, inbox and handler) fed records
    directly, as a record read from `audit.events` would be."""

    def __init__(self, identity: ServiceInProcess) -> None:
        worker = importlib.import_module("agencyos.identity.audit.worker")
        self.runner = ConsumerRunner(
            worker.CONSUMER_NAME,
            identity.ctx.database(),
            "127.0.0.1:1",  # never reached: nothing is dead-lettered with one attempt here
            worker.SUBSCRIPTION,
            max_attempts=1,
        )

    async def deliver(self, event: CloudEvent) -> str:
        record: ConsumerRecord[bytes, bytes] = ConsumerRecord(
            topic="audit.events",
            partition=0,
            offset=0,
            timestamp=0,
            timestamp_type=0,
            key=str(event.tenantid).encode(),
            value=event.model_dump_json(exclude_none=True).encode(),
            checksum=None,
            serialized_key_size=-1,
            serialized_value_size=-1,
            headers=[],
        )
        return await self.runner.handle_record(record)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def recomputed_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256(prev_hash + "\\n" + canonical JSON of the hashed fields), as documented."""
    fields = {name: _plain(row[name]) for name in HASHED}
    for name in ("changes", "detail"):
        if isinstance(fields[name], str):  # jsonb as asyncpg reads it without a codec
            fields[name] = json.loads(fields[name])
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}\n{canonical}".encode()).hexdigest()


def assert_chain(rows: Iterable[Mapping[str, Any]]) -> int:
    """`rows` (in seq order) form an intact chain from seq 1; answers how many."""
    prev, count = GENESIS, 0
    for expected_seq, row in enumerate(rows, start=1):
        assert row["seq"] == expected_seq, (row["seq"], expected_seq)
        assert row["prev_hash"] == prev, row["seq"]
        assert row["hash"] == recomputed_hash(prev, row), row["seq"]
        prev, count = row["hash"], count + 1
    return count
