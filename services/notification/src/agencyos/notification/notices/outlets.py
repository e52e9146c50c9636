"""Where a notice goes once its recipients and their channels are known: the in-app row and
the email queue. Each channel is written through one function here.

Emails are rendered with the agency's brand (name, logo, colour; dates in its zone), carry the
recipient's unsubscribe link for the kind, and are queued once per event, address and
template (a redelivered event queues nothing twice)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.notification.directory.people import Person
from agencyos.notification.email.brands import brand_of
from agencyos.notification.email.message import Addressee
from agencyos.notification.email.queue import queue_email
from agencyos.notification.email.rendering import render_email
from agencyos.notification.inapp.service import add_notification
from agencyos.notification.kinds import Channel
from agencyos.notification.notices.notice import GENERIC_TEMPLATE, Notice
from agencyos.notification.preferences.unsubscribe import unsubscribe_url
from agencyos.notification.settings import NotificationSettings

TITLE_LENGTH = 300


async def deliver_notice(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    source_event_id: uuid.UUID,
    person: Person,
    notice: Notice,
    channels: frozenset[Channel],
) -> None:
    """The notice to `person` on each of `channels` (their effective ones for its kind)."""
    if Channel.IN_APP in channels:
        await write_in_app(
            session,
            tenant_id=tenant_id,
            source_event_id=source_event_id,
            person=person,
            notice=notice,
        )
    if Channel.EMAIL in channels:
        await queue_notice_email(
            session,
            tenant_id=tenant_id,
            source_event_id=source_event_id,
            person=person,
            notice=notice,
        )


async def write_in_app(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    source_event_id: uuid.UUID,
    person: Person,
    notice: Notice,
) -> bool:
    """One in-app row for `person`; False when the event already wrote it."""
    return await add_notification(
        session,
        tenant_id=tenant_id,
        user_id=person.user_id,
        kind=notice.kind,
        title=notice.title[:TITLE_LENGTH],
        body=notice.body,
        subject=notice.subject,
        link=notice.link,
        data=dict(notice.data),
        source_event_id=source_event_id,
        actor_id=notice.actor_id,
    )


async def queue_notice_email(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    source_event_id: uuid.UUID,
    person: Person,
    notice: Notice,
) -> bool:
    """The notice's email to `person`, queued once per event, address and template."""
    if not person.email:
        return False
    return await queue_email(
        session,
        tenant_id=tenant_id,
        source_event_id=source_event_id,
        template=notice.template,
        to=Addressee(email=person.email, name=person.name, user_id=person.user_id),
        rendered=render_email(
            notice.template,
            email_context(notice, person),
            await brand_of(session, tenant_id),
            unsubscribe_url=unsubscribe_link(tenant_id, person.user_id, notice.kind),
        ),
        kind=notice.kind,
    )


def email_context(notice: Notice, person: Person) -> Mapping[str, Any]:
    """What the notice's template is given: the generic one its title, body and link; a
    specific one the notice's own context and the link."""
    link_url = public_url(notice.link) if notice.link else None
    common = {"recipient_name": person.name, "link_url": link_url}
    if notice.template == GENERIC_TEMPLATE:
        return {
            **common,
            "title": notice.title,
            "body": notice.body,
            "link_label": notice.link_label,
        }
    return {**notice.context, **common}


def public_url(path: str) -> str:
    """An API path as the link people follow (under the public base URL)."""
    return notification_settings().public_base_url.rstrip("/") + path


def unsubscribe_link(tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str) -> str:
    """The link that turns this kind's email off for this person."""
    return unsubscribe_url(notification_settings(), tenant_id, user_id, kind)


@cache
def notification_settings() -> NotificationSettings:
    """The service's settings, as the process read them from its environment."""
    return NotificationSettings()
