"""What the automation engine needs of other services: work's tasks and crm's timeline, each
done on behalf of the rule's author. The gRPC implementation lives in `peers.py`; in-process
tests use a typed in-memory one.

Errors: an `AppError` (NotFound, PermissionDenied, InvalidInput...) is final for the action;
`ServiceUnavailable`, `UpstreamTimeout`, `TooManyRequests` and any other exception are
temporary, and the action is tried again later."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Protocol


class AutomationPeers(Protocol):
    async def create_task(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        project_id: uuid.UUID,
        title: str,
        description: str | None,
        assignee_id: uuid.UUID | None,
        due_date: date | None,
    ) -> uuid.UUID: ...

    async def add_timeline_entry(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        client_id: uuid.UUID,
        title: str,
        body: str | None,
    ) -> uuid.UUID: ...
