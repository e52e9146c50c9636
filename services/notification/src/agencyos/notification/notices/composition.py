"""Several handlers for one event type, run one after the other in the same transaction
(the directory learns of a change before the notices about it are made)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import CloudEvent


def chain(*handlers: Handler) -> Handler:
    if len(handlers) == 1:
        return handlers[0]

    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        for handler in handlers:
            await handler(session, event)

    handle.__name__ = "_then_".join(getattr(h, "__name__", "handler") for h in handlers)
    return handle


def compose_handlers(*maps: Mapping[str, Handler]) -> dict[str, Handler]:
    """One handler per event type: the handlers the maps give it, in the maps' order."""
    found: dict[str, list[Handler]] = {}
    for handlers in maps:
        for event_type, handler in handlers.items():
            found.setdefault(event_type, []).append(handler)
    return {event_type: chain(*handlers) for event_type, handlers in found.items()}
