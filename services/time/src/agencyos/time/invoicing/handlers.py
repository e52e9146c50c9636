"""What time does when billing's invoices change."""

from agencyos.common.consumer import Handler

HANDLERS: dict[str, Handler] = {}
