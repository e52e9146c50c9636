"""What work records in the agency's audit log (agencyos.common.audit): every deletion, with
the fields of what was deleted, and changes to a project's money (rate, budget, billing)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal

SERVICE = "work"

# A project's fields that decide what its time and milestones are billed at.
MONEY_FIELDS = ("billing_type", "hourly_rate_cents", "currency", "budget_cents", "budget_hours")


async def record_deleted(
    session: AsyncSession,
    principal: Principal,
    entity_type: str,
    entity_id: uuid.UUID,
    before: Mapping[str, Any],
    detail: Mapping[str, Any] | None = None,
) -> None:
    """`<entity_type>.deleted`, keeping `before` (what it was) in the record."""
    await record_audit(
        session,
        action=f"{entity_type}.deleted",
        entity_type=entity_type,
        entity_id=entity_id,
        actor=principal,
        source_service=SERVICE,
        before=before,
        detail=detail,
    )


def jsonable(value: Any) -> Any:
    """A field's value as the audit record keeps it (decimals and dates as text)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
