"""Event handlers that write in-app notifications. Each runs inside the consumer runner's
transaction (tenant set, inbox row written), so it only adds rows."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import ClientCreated, CloudEvent
from agencyos.notification.models import Notification


async def on_client_created(session: AsyncSession, event: CloudEvent) -> None:
    """Tell the client's owner it is theirs (unless they created it themselves)."""
    payload = event.payload(ClientCreated)
    if payload.owner_id is None or payload.owner_id == payload.created_by:
        recipient = payload.created_by
        title = f"Client {payload.company_name} was created"
    else:
        recipient = payload.owner_id
        title = f"You are now the owner of {payload.company_name}"
    session.add(
        Notification(
            tenant_id=event.tenantid,
            id=uuid.uuid4(),
            user_id=recipient,
            kind=event.type,
            title=title,
            subject=event.subject,
            data={"client_id": str(payload.client_id)},
            source_event_id=event.id,
        )
    )
    await session.flush()
