"""Typed auth dependency for the webhook endpoints API."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

# Owners and admins by default: an endpoint receives the agency's events, money included.
WebhooksManage = Annotated[Principal, require("webhooks.manage")]
