"""Every event notification hears, to the handler that keeps its directory and then tells
people (`NOTICE_HANDLERS`, event type → handler, for consumers.py to subscribe)."""

from __future__ import annotations

from agencyos.common.consumer import Handler
from agencyos.common.events import MemberAdded
from agencyos.notification.directory.handlers import DIRECTORY_HANDLERS
from agencyos.notification.notices import (
    clients,
    deals,
    deliverables,
    imports,
    invoices,
    members,
    tasks,
    timesheets,
)
from agencyos.notification.notices.builders import Builder, as_handlers
from agencyos.notification.notices.composition import compose_handlers
from agencyos.notification.notices.waiting import on_member_joined

# Event type → what it tells whom (one builder per event type).
BUILDERS: dict[str, Builder] = {
    **members.BUILDERS,
    **clients.BUILDERS,
    **tasks.BUILDERS,
    **deliverables.BUILDERS,
    **deals.BUILDERS,
    **timesheets.BUILDERS,
    **invoices.BUILDERS,
    **imports.BUILDERS,
}

NOTICE_HANDLERS: dict[str, Handler] = compose_handlers(
    DIRECTORY_HANDLERS,
    as_handlers(BUILDERS),
    as_handlers({MemberAdded.event_type: on_member_joined(BUILDERS)}),
)
