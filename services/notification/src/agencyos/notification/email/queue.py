"""The durable email queue: a row in `email_deliveries`, written in the caller's transaction
(so an email is queued exactly when the work that wants it commits) and sent later by the
delivery worker (agencyos.notification.email.worker)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.notification.email.message import Addressee, AttachmentLink, RenderedEmail
from agencyos.notification.models import DeliveryStatus, EmailDelivery


async def queue_email(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    source_event_id: uuid.UUID,
    template: str,
    to: Addressee,
    rendered: RenderedEmail,
    kind: str | None = None,
    contains_secret: bool = False,
    attachments: Sequence[AttachmentLink] = (),
) -> bool:
    """Queue one email unless this event already queued `template` for this address (in any
    letter case): whatever redelivers the event, it is sent once. Answers whether it was
    queued now. `contains_secret` (a sign-in or reset link) blanks the bodies once the email
    is sent or has failed for good."""
    stmt = (
        insert(EmailDelivery)
        .values(
            tenant_id=tenant_id,
            id=uuid.uuid4(),
            source_event_id=source_event_id,
            template=template,
            kind=kind,
            to_email=to.email.strip(),
            to_name=to.name,
            user_id=to.user_id,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            attachments=[
                {"filename": a.filename, "content_type": a.content_type, "url": a.url}
                for a in attachments
            ],
            unsubscribe_url=rendered.unsubscribe_url,
            status=DeliveryStatus.QUEUED.value,
            attempts=0,
            contains_secret=contains_secret,
        )
        .on_conflict_do_nothing()
        .returning(EmailDelivery.id)
    )
    return (await session.execute(stmt)).first() is not None
