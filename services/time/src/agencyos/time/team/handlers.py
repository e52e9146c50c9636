"""Keeps time's roster of the agency's people (`team_members`) current from identity's events."""

from agencyos.common.consumer import Handler

HANDLERS: dict[str, Handler] = {}
