"""Recording security- and money-relevant actions in the agency's audit log.

    await record_audit(
        session,
        action="member.role_changed",
        entity_type="member",
        entity_id=member.user_id,
        actor=principal,
        before={"role": "member"},
        after={"role": "admin"},
        source_service="identity",
    )

The record is an `audit.recorded` event written to the caller's outbox, so it commits (or not)
with the action itself; identity's audit consumer appends it to the agency's log. An action
that fails and rolls back is recorded only if the caller records it in a transaction of its
own (a failed sign-in does). Never pass a secret as a value: name its change in `detail`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.events.audit import ActorType, AuditRecorded, FieldChange
from agencyos.common.outbox import publish

__all__ = ["AuditActor", "changed_fields", "record_audit"]


class AuditActor:
    """An actor that is not the request's principal: the platform itself, or someone named
    only by what they typed (a failed sign-in)."""

    def __init__(
        self, actor_type: ActorType, actor_id: str | None = None, label: str | None = None
    ) -> None:
        self.actor_type = actor_type
        self.actor_id = actor_id
        self.label = label


SYSTEM = AuditActor("system")


def changed_fields(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, FieldChange]:
    """The fields whose values differ between `before` and `after` (a missing one is null)."""
    before, after = before or {}, after or {}
    return {
        name: FieldChange(before=before.get(name), after=after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    }


def _actor(
    actor: Principal | AuditActor, label: str | None
) -> tuple[ActorType, str | None, str | None]:
    if isinstance(actor, AuditActor):
        return actor.actor_type, actor.actor_id, label or actor.label
    if actor.api_key_id is not None:
        return "api_key", str(actor.api_key_id), label
    return "user", str(actor.user_id), label


async def record_audit(
    session: AsyncSession,
    *,
    action: str,
    entity_type: str,
    entity_id: uuid.UUID | str | None,
    actor: Principal | AuditActor,
    source_service: str,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    detail: Mapping[str, Any] | None = None,
    actor_label: str | None = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Record `action` in the agency's audit log, in the caller's transaction. `before` and
    `after` are the fields as they were and are (only those that differ are kept); the
    agency is the transaction's tenant unless `tenant_id` names it."""
    actor_type, actor_id, label = _actor(actor, actor_label)
    await publish(
        session,
        AuditRecorded(
            action=action,
            entity_type=entity_type,
            entity_id=str(entity_id) if entity_id is not None else None,
            actor_type=actor_type,
            actor_id=actor_id,
            actor_label=label,
            changes=changed_fields(before, after),
            detail=dict(detail or {}),
        ),
        source_service=source_service,
        subject=f"{entity_type}s/{entity_id}" if entity_id is not None else None,
        tenant_id=tenant_id,
    )
