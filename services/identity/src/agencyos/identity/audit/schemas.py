import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agencyos.common.events.audit import ActorType


class AuditActorOut(BaseModel):
    type: ActorType = Field(description="`user`, `api_key`, `system` or `anonymous`")
    id: str | None = Field(description="The user's or API key's id; null for the platform")
    label: str | None = Field(
        description="What named the actor when it acted (an email, a key's name)"
    )


class AuditRecordOut(BaseModel):
    """One audit-log record, as stored (records never change)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0e0c3c9f-8a59-4c1b-9b1e-3f8f0e7f2a61",
                    "seq": 42,
                    "occurred_at": "2026-12-05T10:00:00.123456Z",
                    "recorded_at": "2026-12-05T10:00:00.234567Z",
                    "actor": {"type": "user", "id": "5b7c…", "label": "ada@example.com"},
                    "action": "member.role_changed",
                    "entity_type": "member",
                    "entity_id": "9d1e…",
                    "changes": {"role": {"before": "member", "after": "admin"}},
                    "detail": {},
                    "ip": "203.0.113.7",
                    "user_agent": "Mozilla/5.0",
                    "request_id": "4f1c2d…",
                    "source_service": "identity",
                    "event_id": "c2a4…",
                    "prev_hash": "9f86d0…",
                    "hash": "e3b0c4…",
                }
            ]
        }
    )

    id: uuid.UUID
    seq: int = Field(description="Position in the agency's log: 1, 2, 3… with no gaps")
    occurred_at: datetime = Field(description="When the action was done")
    recorded_at: datetime = Field(description="When the log recorded it")
    actor: AuditActorOut
    action: str = Field(description="`<entity>.<verb in the past tense>`, e.g. `invoice.sent`")
    entity_type: str
    entity_id: str | None
    changes: dict[str, Any] = Field(
        description='The changed fields: `{field: {"before": …, "after": …}}`'
    )
    detail: dict[str, Any]
    ip: str | None = Field(description="The actor's IP address, when a request did it")
    user_agent: str | None
    request_id: str | None = Field(description="The `X-Request-Id` of the request that did it")
    source_service: str
    event_id: uuid.UUID
    prev_hash: str = Field(description="The previous record's `hash` (64 zeros before seq 1)")
    hash: str = Field(description="SHA-256 over `prev_hash` and this record (see the docs)")


class AuditPage(BaseModel):
    items: list[AuditRecordOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next (older) page; null on the last page",
        examples=["al1_AAAAAAAAACo"],
    )


class BrokenLinkOut(BaseModel):
    seq: int = Field(description="Where the chain first breaks")
    id: uuid.UUID | None = Field(
        description="The record found there (null when records are missing at the end)"
    )
    problem: Literal["hash_mismatch", "prev_hash_mismatch", "seq_gap"] = Field(
        description="`hash_mismatch`: the record is not what was hashed (a field changed); "
        "`prev_hash_mismatch`: it does not link to the record before it (one was removed, "
        "inserted or moved); `seq_gap`: a seq is missing (records deleted)"
    )
    expected: str
    found: str


class AuditVerification(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"ok": True, "records": 1234, "broken": None},
                {
                    "ok": False,
                    "records": 41,
                    "broken": {
                        "seq": 42,
                        "id": "0e0c3c9f-8a59-4c1b-9b1e-3f8f0e7f2a61",
                        "problem": "hash_mismatch",
                        "expected": "e3b0c4…",
                        "found": "5feceb…",
                    },
                },
            ]
        }
    )

    ok: bool
    records: int = Field(description="Records checked and found intact before any break")
    broken: BrokenLinkOut | None = None
