"""What billing does with other services' events."""

from agencyos.common.consumer import Handler

HANDLERS: dict[str, Handler] = {}
