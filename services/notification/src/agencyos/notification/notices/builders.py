"""A notice builder: what one event type tells whom, given the `Telling` of that event. The
same builder runs when the event arrives and when a parked event is made again for someone
who has just joined."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import CloudEvent
from agencyos.notification.notices.telling import Telling

Builder = Callable[[Telling], Awaitable[None]]


def as_handler(builder: Builder) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await builder(Telling(session, event))

    handle.__name__ = builder.__name__
    return handle


def as_handlers(builders: Mapping[str, Builder]) -> dict[str, Handler]:
    return {event_type: as_handler(builder) for event_type, builder in builders.items()}
