"""Telling an agency's owners that one of its webhook endpoints was disabled (it answered 410, or
every delivery to it failed for days): an in-app notice and an email, as their channels for
the kind say."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import Role
from agencyos.notification.directory.people import people_repository
from agencyos.notification.models import WebhookEndpoint
from agencyos.notification.models.webhook import EndpointDisabledReason
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.outlets import deliver_notice
from agencyos.notification.preferences.service import effective_channels_for

DISABLED_KIND = "webhook.disabled"

_REASONS = {
    EndpointDisabledReason.GONE: "it answered 410 Gone",
    EndpointDisabledReason.FAILING: "every delivery to it failed for days",
}


async def tell_owners(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    reason: EndpointDisabledReason,
    *,
    source_event_id: uuid.UUID,
) -> list[uuid.UUID]:
    """The agency's owners hear that the endpoint was disabled (in-app and by email, as their
    channels for the kind say; both by default)."""
    owners = [p for p in await people_repository.active(session) if p.role is Role.OWNER]
    if not owners:
        return []
    notice = Notice(
        kind=DISABLED_KIND,
        title=f"Webhook endpoint disabled: {endpoint.url}",
        body=(
            f"AgencyOS stopped sending events to {endpoint.url} because {_REASONS[reason]}. "
            "Fix the endpoint, then enable it again; deliveries waiting for it are sent then."
        ),
        link=f"/v1/webhook-endpoints/{endpoint.id}",
        link_label="Open the endpoint",
        data={"endpoint_id": str(endpoint.id), "reason": reason.value},
    )
    channels = await effective_channels_for(
        session, endpoint.tenant_id, [(p.user_id, Role.OWNER) for p in owners], DISABLED_KIND
    )
    for person in owners:
        await deliver_notice(
            session,
            tenant_id=endpoint.tenant_id,
            source_event_id=source_event_id,
            person=person,
            notice=notice,
            channels=channels.get(person.user_id, frozenset()),
        )
    return [p.user_id for p in owners]
