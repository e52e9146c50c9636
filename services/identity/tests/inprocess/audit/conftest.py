"""Fixtures of the audit-log tests: identity's audit worker fed directly, and the records of
an agency read back as its owner role would (row-level security applies)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from agencyos.testing.audit import AuditWriter, audit_event
from agencyos.testing.inprocess import ServiceInProcess

Records = Callable[[uuid.UUID], Awaitable[list[asyncpg.Record]]]
Append = Callable[..., Awaitable[list[Any]]]


@pytest.fixture
def writer(identity_service: ServiceInProcess) -> AuditWriter:
    return AuditWriter(identity_service)


@pytest.fixture
def records(identity_service: ServiceInProcess) -> Records:
    """`await records(agency_id)`: the agency's audit records in seq order."""

    async def read(tenant_id: uuid.UUID) -> list[asyncpg.Record]:
        return await identity_service.rows(
            "SELECT * FROM audit_records ORDER BY seq", tenant_id=tenant_id
        )

    return read


@pytest.fixture
def append(writer: AuditWriter) -> Append:
    """`await append(agency_id, n, **fields)`: n `audit.recorded` events appended through the
    worker, one after another; answers the events."""

    async def add(tenant_id: uuid.UUID, n: int = 1, **fields: Any) -> list[Any]:
        events = []
        for _ in range(n):
            event = audit_event(tenant_id, **fields)
            assert await writer.deliver(event) == "ok"
            events.append(event)
        return events

    return add
