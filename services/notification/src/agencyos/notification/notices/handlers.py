"""Every event notification hears, to the handler that keeps its directory and tells people."""

from __future__ import annotations

from agencyos.common.consumer import Handler
from agencyos.notification.directory.handlers import DIRECTORY_HANDLERS
from agencyos.notification.notices.composition import compose_handlers

NOTICE_HANDLERS: dict[str, Handler] = compose_handlers(DIRECTORY_HANDLERS)
