"""Seeding notification's directory in the in-process tier: people join an agency by their
`identity.member.added` event (as identity would publish it), handed to notification's own
consumer runner; events are built at chosen instants so ordering rules can be tested."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from agencyos.common.events import CloudEvent, EventPayload, MemberAdded, build_event
from agencyos.testing.inprocess import Agency, Caller, InProcess

SOURCE_OF = {
    "identity": "identity",
    "work": "work",
    "crm": "crm",
    "time": "time",
    "billing": "billing",
}


def event_of(
    payload: EventPayload,
    tenant_id: uuid.UUID,
    *,
    at: datetime | None = None,
    subject: str | None = None,
) -> CloudEvent:
    """`payload` in its envelope, from the service its type names, at `at` (default now)."""
    source = payload.event_type.split(".", 1)[0]
    event = build_event(
        payload, tenant_id=tenant_id, source_service=SOURCE_OF.get(source, source), subject=subject
    )
    return event.model_copy(update={"time": at}) if at is not None else event


def member_added(
    who: Caller,
    *,
    name: str | None = None,
    email: str | None = None,
    permissions: list[str] | None = None,
    at: datetime | None = None,
) -> CloudEvent:
    return event_of(
        MemberAdded(
            agency_id=who.agency_id,
            user_id=who.user_id,
            email=email or f"{who.user_id.hex[:10]}@example.com",
            name=name or f"{who.role.title()} {who.user_id.hex[:6]}",
            role=who.role,
            client_id=who.client_id,
            permissions=permissions,
        ),
        who.agency_id,
        at=at,
    )


async def deliver(in_process: InProcess, *events: CloudEvent) -> list[str]:
    """Hand each event to notification's consumer runner, in order; their outcomes."""
    return [await in_process.deliver("notification", event) for event in events]


async def join(
    in_process: InProcess,
    agency: Agency,
    role: str = "member",
    *,
    name: str | None = None,
    permissions: list[str] | None = None,
    client_id: uuid.UUID | None = None,
    **caller: Any,
) -> Caller:
    """A new person of `agency` whom notification knows (their member.added delivered)."""
    who = agency.caller(role, permissions=permissions, client_id=client_id, **caller)
    outcome = await in_process.deliver(
        "notification", member_added(who, name=name, permissions=permissions)
    )
    assert outcome == "ok", outcome
    return who


async def seed(in_process: InProcess, *people: Caller) -> None:
    """Make notification know callers made elsewhere (an agency's owner, say)."""
    for who in people:
        assert await in_process.deliver("notification", member_added(who)) == "ok"
