"""The audit log's hash chain: how a record's `hash` is computed, so that anyone holding an
export can recompute it.

    hash = SHA-256( prev_hash + "\\n" + canonical ), as 64 lower-case hex digits

`prev_hash` is the previous record's `hash` (64 hex digits) or, for an agency's first record
(seq 1), `GENESIS_HASH` (64 zeros). `canonical` is the UTF-8 encoding of the record's fields as
one JSON object with the keys sorted, no insignificant whitespace (`,` and `:` separators),
non-ASCII characters written as themselves (not `\\u` escapes):

    tenant_id, seq, id, event_id        the agency, the position, the record's and event's ids
    occurred_at, recorded_at            RFC 3339 in UTC with microseconds and `Z`
                                        (`2026-12-05T10:00:00.000000Z`)
    actor_type, actor_id, actor_label   who did it
    action, entity_type, entity_id      what was done to what
    changes, detail                     JSON objects as stored
    ip, user_agent, request_id          where it came from
    source_service                      which service recorded it

Ids are lower-case hyphenated UUIDs; `seq` is a JSON integer; an absent value is `null`. With
`python3`: `hashlib.sha256((prev + "\\n" + json.dumps(fields, sort_keys=True,
separators=(",", ":"), ensure_ascii=False)).encode()).hexdigest()`.

Changing any field of a record changes its hash; removing, inserting or reordering records
breaks a `prev_hash` link or leaves a gap in `seq`: `GET /v1/audit-log/verify` finds the first.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields the hash covers, in the order the docs list them (the JSON sorts them anyway).
HASHED_FIELDS = (
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


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds: the one spelling the hash uses."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return timestamp(value)
    return value


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The record's hashed fields as canonical JSON (see the module's doc)."""
    document = {name: _plain(fields.get(name)) for name in HASHED_FIELDS}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(fields)).hexdigest()
