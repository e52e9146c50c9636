"""Notices parked for a person the directory did not know yet (see `telling`), made for
them when their `identity.member.added` arrives; parked events older than `WAITING_DAYS`
(from the arrival) are dropped instead."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent, MemberAdded
from agencyos.common.logs import get_logger
from agencyos.notification.models import WaitingNotice
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.telling import WAITING_DAYS, Telling

log = get_logger(__name__)


async def release_waiting(
    session: AsyncSession,
    event: CloudEvent,
    user_id: uuid.UUID,
    builders: Mapping[str, Builder],
) -> int:
    """Make the parked events' notices for `user_id` alone, then forget them; answers how
    many were made."""
    since = event.time - timedelta(days=WAITING_DAYS)
    rows = (
        await session.scalars(
            select(WaitingNotice)
            .where(WaitingNotice.user_id == user_id)
            .order_by(WaitingNotice.created_at, WaitingNotice.id)
            .with_for_update()
        )
    ).all()
    made = 0
    for row in rows:
        parked = CloudEvent.model_validate(row.event)
        builder = builders.get(parked.type)
        if builder is not None and row.created_at >= since:
            await builder(Telling(session, parked, only=user_id))
            made += 1
    if rows:
        await session.execute(delete(WaitingNotice).where(WaitingNotice.user_id == user_id))
        log.info("parked notices released", made=made, dropped=len(rows) - made)
    return made


def on_member_joined(builders: Mapping[str, Builder]) -> Builder:
    """The handler that follows the directory's `identity.member.added`."""

    async def build(telling: Telling) -> None:
        payload = telling.event.payload(MemberAdded)
        await release_waiting(telling.session, telling.event, payload.user_id, builders)

    build.__name__ = "release_waiting_notices"
    return build
