"""The audit records a service wrote, read from its outbox (`audit.recorded` events), for
in-process tests of every service:

    records = await audit_records(service, action="invoice.voided", tenant_id=agency.id)
    assert records[0].changes == {"status": {"before": "sent", "after": "void"}}
    assert_no_secret(await audit_records(service), api_key)

What the relay would publish on `audit.events`: the rows are read with the relay's flag (every
agency's rows), narrowed to one agency when `tenant_id` is given.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from agencyos.testing.infra import Infra
from agencyos.testing.sql import fetch_rows

__all__ = ["AuditRecord", "assert_no_secret", "audit_records"]


class HasDatabase(Protocol):
    """A service in this process (`ServiceInProcess`): where its database is."""

    @property
    def infra(self) -> Infra: ...

    @property
    def database(self) -> str: ...


@dataclass(frozen=True)
class AuditRecord:
    """One `audit.recorded` event: its payload's fields, the agency, and the whole envelope
    (for checks over everything it carries)."""

    tenant_id: uuid.UUID
    action: str
    entity_type: str
    entity_id: str | None
    actor_type: str
    actor_id: str | None
    actor_label: str | None
    changes: dict[str, dict[str, Any]]
    detail: dict[str, Any]
    # The service that recorded it (the envelope's `source` is `/agencyos/<service>`).
    source_service: str
    envelope: dict[str, Any]

    @property
    def before(self) -> dict[str, Any]:
        return {name: change.get("before") for name, change in self.changes.items()}

    @property
    def after(self) -> dict[str, Any]:
        return {name: change.get("after") for name, change in self.changes.items()}


def _record(envelope: dict[str, Any]) -> AuditRecord:
    data = envelope["data"]
    return AuditRecord(
        tenant_id=uuid.UUID(envelope["tenantid"]),
        action=data["action"],
        entity_type=data["entity_type"],
        entity_id=data.get("entity_id"),
        actor_type=data["actor_type"],
        actor_id=data.get("actor_id"),
        actor_label=data.get("actor_label"),
        changes=data.get("changes") or {},
        detail=data.get("detail") or {},
        source_service=envelope["source"].rsplit("/", 1)[-1],
        envelope=envelope,
    )


async def audit_records(
    service: HasDatabase, *, action: str | None = None, tenant_id: uuid.UUID | None = None
) -> list[AuditRecord]:
    """The audit records `service` wrote to its outbox, oldest first: of `action` only when
    given, of one agency when `tenant_id` is given."""
    rows = await fetch_rows(
        service.infra,
        service.database,
        "SELECT envelope FROM outbox WHERE event_type = 'audit.recorded' "
        "AND ($1::text IS NULL OR envelope->'data'->>'action' = $1) "
        "AND ($2::uuid IS NULL OR tenant_id = $2) ORDER BY id",
        action,
        tenant_id,
        owner=True,
        relay=True,
    )
    return [
        _record(json.loads(r["envelope"]) if isinstance(r["envelope"], str) else r["envelope"])
        for r in rows
    ]


def assert_no_secret(records: Iterable[AuditRecord], *secrets: str) -> None:
    """No record's envelope carries any of `secrets` (a key, a password, a token)."""
    for record in records:
        text = json.dumps(record.envelope)
        for secret in secrets:
            assert secret, "an empty secret proves nothing"
            assert secret not in text, f"{record.action} carries a secret"
