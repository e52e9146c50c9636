"""Doing one action of a run: each kind's effect, in the caller's transaction (under the
run's agency) and with the automation depth of the run's event plus one attached, so what
the action causes (notices, tasks, timeline entries) carries it on.

An action either answers what it did (the run's `detail`), raises `ActionRefused` (it cannot
succeed however often it is tried: a bad template, nobody to email, a peer's answer that the
input is wrong or not allowed), or raises anything else: a temporary failure, tried again.

A rule triggered by a comment that is not client-visible (`work.comment.*` whose `visibility`
is not `client`) never notifies nor emails a client user it names (by id): an internal
comment never reaches a client user, whoever wrote the rule."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import utcnow
from agencyos.common.errors import AppError, ServiceUnavailable, TooManyRequests, UpstreamTimeout
from agencyos.notification.automations import templates
from agencyos.notification.automations.conditions import MISSING, lookup
from agencyos.notification.automations.ports import AutomationPeers
from agencyos.notification.automations.triggers import (
    PRIMARY_CONTACT_PATH,
    project_field,
    subject_owner_field,
)
from agencyos.notification.directory.people import Person, people_repository
from agencyos.notification.directory.projects import project_repository
from agencyos.notification.email.brands import brand_of
from agencyos.notification.email.message import Addressee
from agencyos.notification.email.queue import queue_email
from agencyos.notification.email.rendering import render_email
from agencyos.notification.kinds import KINDS
from agencyos.notification.models import AutomationRule, WebhookEndpoint
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.outlets import deliver_notice
from agencyos.notification.preferences.service import effective_channels_for
from agencyos.notification.recipients.rules import final, project_managers, project_members
from agencyos.notification.webhooks.deliveries import create_delivery

NOTICE_KIND = "automation.notified"
EMAIL_TEMPLATE = "automation"
TITLE_LIMIT = 300
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# peers' errors that say "not now" rather than "never"
TEMPORARY_ERRORS = (ServiceUnavailable, UpstreamTimeout, TooManyRequests)


class ActionRefused(Exception):
    """The action cannot succeed as it stands: it is not tried again."""


class NotYetKnown(Exception):
    """Whom the action is for is not in notification's read models (yet): they are fed by
    other services' events, which another consumer may not have handled when this one acts.
    Tried again on the retry schedule; still nobody after the last try fails the action."""


def permanent(exc: BaseException) -> bool:
    if isinstance(exc, ActionRefused | templates.TemplateFailed):
        return True
    return isinstance(exc, AppError) and not isinstance(exc, TEMPORARY_ERRORS)


@dataclass(frozen=True)
class ActionContext:
    session: AsyncSession
    tenant_id: uuid.UUID
    run_id: uuid.UUID
    index: int
    rule: AutomationRule
    event: Mapping[str, Any]
    peers: AutomationPeers
    webhook_max_attempts: int

    @property
    def effect_id(self) -> uuid.UUID:
        """The id this action's notices and emails are written once under: the same on a
        retry, different for each action of each run."""
        return uuid.uuid5(self.run_id, f"action-{self.index}")

    def text(self, source: str | None) -> str | None:
        return templates.render_text(source, self.event) if source is not None else None


def _uuid(value: Any) -> uuid.UUID | None:
    if value is MISSING or value in (None, ""):
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _id_of(ctx: ActionContext, spec: Any, name: str, *, required: bool) -> uuid.UUID | None:
    """A literal id, or the id at the event path `spec` (`data.project_id`)."""
    if spec is None:
        return None
    found = _uuid(lookup(ctx.event, spec) if str(spec).startswith("data.") else spec)
    if found is None and required:
        raise ActionRefused(f"{name}: the event has no id at {spec!r}")
    return found


def _ids_at(event: Mapping[str, Any], path: str) -> list[uuid.UUID]:
    value = lookup(event, path)
    values = value if isinstance(value, list) else [value]
    return [u for v in values if (u := _uuid(v)) is not None]


def _for_the_team_only(event: Mapping[str, Any]) -> bool:
    """An internal comment's event (also one from before comments had a visibility)."""
    return str(event.get("type", "")).startswith("work.comment.") and (
        lookup(event, "data.visibility") != "client"
    )


def _readers(ctx: ActionContext, people: list[Person]) -> list[Person]:
    """Those of `people` who may read what the run's event says."""
    if not _for_the_team_only(ctx.event):
        return people
    readers = [p for p in people if not p.is_client]
    if people and not readers:
        raise ActionRefused("an internal comment is never sent to a client user")
    return readers


async def _with_role(session: AsyncSession, role: str) -> list[Person]:
    return [p for p in await people_repository.active(session) if p.role == role]


async def _project_people(ctx: ActionContext, which: str) -> list[Person]:
    field = project_field(str(ctx.event.get("type")))
    project_id = _uuid(lookup(ctx.event, f"data.{field}")) if field else None
    if project_id is None:
        raise ActionRefused("the event names no project")
    project = await project_repository.get(ctx.session, project_id)
    if project is None:
        raise NotYetKnown("the event's project is not known here yet")
    everyone = await people_repository.active(ctx.session)
    kind = KINDS[NOTICE_KIND]
    if which == "project_managers":
        return project_managers(project, everyone, kind)
    return project_members(project, everyone, kind)


async def _notify_candidates(ctx: ActionContext, to: Mapping[str, Any]) -> list[Person]:
    if "role" in to:
        return await _with_role(ctx.session, to["role"])
    if "person_id" in to:
        found = await people_repository.by_ids(ctx.session, [uuid.UUID(to["person_id"])])
        return list(found.values())
    if to.get("subject_owner"):
        field = subject_owner_field(str(ctx.event.get("type")))
        if field is None:
            raise ActionRefused("the event names no owner of its subject")
        ids = _ids_at(ctx.event, f"data.{field}")
        found = await people_repository.by_ids(ctx.session, ids)
        return [found[u] for u in ids if u in found]
    if to.get("project_members"):
        return await _project_people(ctx, "project_members")
    if to.get("project_managers"):
        return await _project_people(ctx, "project_managers")
    raise ActionRefused(f"unknown target {dict(to)!r}")


async def notify(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    """An in-app notice (kind `automation.notified`) to each target who may hear it, on the
    channels their preferences give that kind."""
    kind = KINDS[NOTICE_KIND]
    chosen = final(_readers(ctx, await _notify_candidates(ctx, spec["to"])), kind, actor_id=None)
    if not chosen:
        raise NotYetKnown("nobody to notify: the target resolved to nobody")
    title = (ctx.text(spec["title"]) or "").strip()[:TITLE_LIMIT] or ctx.rule.name
    link = (ctx.text(spec.get("link")) or "").strip() or None
    notice = Notice(
        kind=kind.name,
        title=title,
        body=ctx.text(spec.get("body")) or "",
        link=link if link and link.startswith("/") and not link.startswith("//") else None,
        subject=f"automations/{ctx.rule.id}",
        data={
            "rule_id": str(ctx.rule.id),
            "run_id": str(ctx.run_id),
            "event_id": str(ctx.event.get("id")),
            "event_type": str(ctx.event.get("type")),
        },
    )
    channels = await effective_channels_for(
        ctx.session,
        ctx.tenant_id,
        [(p.user_id, p.role) for p in chosen if p.role is not None],
        kind.name,
    )
    for person in chosen:
        await deliver_notice(
            ctx.session,
            tenant_id=ctx.tenant_id,
            source_event_id=ctx.effect_id,
            person=person,
            notice=notice,
            channels=channels.get(person.user_id, frozenset()),
        )
    return {"notified": [str(p.user_id) for p in chosen]}


async def _addressees(ctx: ActionContext, to: Mapping[str, Any]) -> list[Addressee]:
    if "role" in to or "person_id" in to:
        people = _readers(ctx, await _notify_candidates(ctx, to))
        return [
            Addressee(email=p.email, name=p.name, user_id=p.user_id)
            for p in people
            if p.active and p.email
        ]
    if "email_field" in to:
        address = lookup(ctx.event, to["email_field"])
        return (
            [Addressee(email=address)] if isinstance(address, str) and _EMAIL.match(address) else []
        )
    if to.get("client_primary_contact"):
        address = lookup(ctx.event, PRIMARY_CONTACT_PATH)
        name = lookup(ctx.event, "data.bill_to.contact_name")
        if isinstance(address, str) and _EMAIL.match(address):
            return [Addressee(email=address, name=name if isinstance(name, str) else None)]
        return []
    raise ActionRefused(f"unknown target {dict(to)!r}")


async def email(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The email to each address, queued once (text and HTML, in the agency's brand)."""
    addressees = await _addressees(ctx, spec["to"])
    if not addressees:
        message = "no address to email: the target resolved to nobody"
        # people come from the directory, which may lag; an address in the event never will
        people = any(k in spec["to"] for k in ("role", "person_id"))
        raise NotYetKnown(message) if people else ActionRefused(message)
    subject = " ".join((ctx.text(spec["subject"]) or "").split())[:TITLE_LIMIT] or ctx.rule.name
    text_body = templates.render_text(spec["body"], ctx.event)
    html_body = templates.render_html(spec["body"], ctx.event)
    brand = await brand_of(ctx.session, ctx.tenant_id)
    queued = []
    for to in addressees:
        rendered = render_email(
            EMAIL_TEMPLATE,
            {
                "subject": subject,
                "text_body": text_body,
                "html_body": html_body,
                "recipient_name": to.name,
            },
            brand,
        )
        await queue_email(
            ctx.session,
            tenant_id=ctx.tenant_id,
            source_event_id=ctx.effect_id,
            template=EMAIL_TEMPLATE,
            to=to,
            rendered=rendered,
        )
        queued.append(to.email)
    return {"queued": queued}


def _author(ctx: ActionContext) -> uuid.UUID:
    if ctx.rule.created_by is None:
        raise ActionRefused("the rule has no author to act as")
    return ctx.rule.created_by


async def create_task(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    project_id = _id_of(ctx, spec["project_id"], "project_id", required=True)
    assert project_id is not None
    days = spec.get("due_in_days")
    task_id = await ctx.peers.create_task(
        tenant_id=ctx.tenant_id,
        acting_user_id=_author(ctx),
        project_id=project_id,
        title=(ctx.text(spec["title"]) or "").strip()[:TITLE_LIMIT] or ctx.rule.name,
        description=ctx.text(spec.get("description")),
        assignee_id=_id_of(ctx, spec.get("assignee_id"), "assignee_id", required=False),
        due_date=(utcnow() + timedelta(days=int(days))).date() if days is not None else None,
    )
    return {"task_id": str(task_id)}


async def timeline_entry(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    client_id = _id_of(ctx, spec["client_id"], "client_id", required=True)
    assert client_id is not None
    entry_id = await ctx.peers.add_timeline_entry(
        tenant_id=ctx.tenant_id,
        acting_user_id=_author(ctx),
        client_id=client_id,
        title=(ctx.text(spec["title"]) or "").strip()[:TITLE_LIMIT] or ctx.rule.name,
        body=ctx.text(spec.get("body")),
    )
    return {"entry_id": str(entry_id)}


async def webhook(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The triggering event, queued for one endpoint of the agency (the dispatcher sends it)."""
    endpoint = await ctx.session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == uuid.UUID(spec["endpoint_id"]))
    )
    if endpoint is None:
        raise ActionRefused("the webhook endpoint no longer exists")
    if not endpoint.enabled:
        raise ActionRefused(f"the webhook endpoint is disabled ({endpoint.disabled_reason})")
    origin = f"automation:{ctx.run_id}"
    delivery_id = await create_delivery(
        ctx.session,
        tenant_id=ctx.tenant_id,
        endpoint_id=endpoint.id,
        envelope=ctx.event,
        origin=origin,
        max_attempts=ctx.webhook_max_attempts,
        occurred_at=datetime.fromisoformat(str(ctx.event["time"])),
    )
    return {"delivery_id": str(delivery_id) if delivery_id else None, "origin": origin}


PERFORMERS = {
    "notify": notify,
    "email": email,
    "create_task": create_task,
    "timeline_entry": timeline_entry,
    "webhook": webhook,
}


async def perform(ctx: ActionContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    performer = PERFORMERS.get(str(spec.get("kind")))
    if performer is None:
        raise ActionRefused(f"unknown action kind {spec.get('kind')!r}")
    return await performer(ctx, spec)
