"""Seeding notification's directory in the in-process tier: people join an agency by their
`identity.member.added` event (as identity would publish it), handed to notification's own
consumer runner; events are built at chosen instants so ordering rules can be tested."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agencyos.common.db import utcnow
from agencyos.common.events import (
    CloudEvent,
    EventPayload,
    MemberAdded,
    MemberRemoved,
    MemberSuspended,
    ProjectCreated,
    ProjectState,
    build_event,
)
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


def project_created(
    agency: Agency,
    *members: Caller,
    name: str = "Website relaunch",
    client_id: uuid.UUID | None = None,
    created_by: Caller | None = None,
    deal_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> CloudEvent:
    """work's `work.project.created` for a new project of `agency` with `members`."""
    project_id = uuid.uuid4()
    creator = created_by.user_id if created_by is not None else None
    return event_of(
        ProjectCreated(
            project_id=project_id,
            name=name,
            client_id=client_id,
            deal_id=deal_id,
            created_by=creator,
            project=ProjectState(
                name=name,
                client_id=client_id,
                status="active",
                billing_type="fixed",
                hourly_rate_cents=None,
                currency="EUR",
                member_ids=[m.user_id for m in members],
                changed_at=at or utcnow(),
            ),
        ),
        agency.id,
        at=at,
        subject=f"projects/{project_id}",
    )


def suspended(who: Caller, *, at: datetime | None = None) -> CloudEvent:
    return event_of(
        MemberSuspended(agency_id=who.agency_id, user_id=who.user_id, suspended_by=uuid.uuid4()),
        who.agency_id,
        at=at,
    )


def removed(who: Caller, *, at: datetime | None = None) -> CloudEvent:
    return event_of(
        MemberRemoved(
            agency_id=who.agency_id, user_id=who.user_id, role=who.role, removed_by=uuid.uuid4()
        ),
        who.agency_id,
        at=at,
    )


async def notices_of(
    in_process: InProcess, who: Caller, kind: str | None = None
) -> list[dict[str, Any]]:
    """The in-app notifications written for `who` (of `kind`), oldest first."""
    service = await in_process.service("notification")
    found = await service.rows(
        "SELECT * FROM notifications WHERE user_id = $1 AND ($2::text IS NULL OR kind = $2) "
        "ORDER BY created_at, id",
        who.user_id,
        kind,
        tenant_id=who.agency_id,
    )
    return [dict(r) for r in found]


async def told(in_process: InProcess, event: CloudEvent, kind: str) -> set[uuid.UUID]:
    """Who got an in-app notification of `kind` from `event` (in its agency)."""
    service = await in_process.service("notification")
    found = await service.rows(
        "SELECT user_id FROM notifications WHERE source_event_id = $1 AND kind = $2",
        event.id,
        kind,
        tenant_id=event.tenantid,
    )
    return {r["user_id"] for r in found}


async def emailed(in_process: InProcess, event: CloudEvent) -> list[dict[str, Any]]:
    """The emails `event` queued (in its agency), by address."""
    service = await in_process.service("notification")
    found = await service.rows(
        "SELECT * FROM email_deliveries WHERE source_event_id = $1 ORDER BY to_email",
        event.id,
        tenant_id=event.tenantid,
    )
    return [dict(r) for r in found]


@dataclass
class Cast:
    """An agency notification knows, with one project (its client's) and the people the
    recipient rules tell apart: the project's manager and member, a member not on it, a
    suspended member on it, a user of the project's client and one of another client, an
    owner (who sees every project) and a stranger of another agency."""

    agency: Agency
    owner: Caller
    manager: Caller
    member: Caller
    outsider: Caller
    suspended: Caller
    client: Caller
    other_client: Caller
    stranger: Caller
    project_id: uuid.UUID
    client_id: uuid.UUID

    @property
    def everyone(self) -> dict[str, Caller]:
        return {
            "owner": self.owner,
            "manager": self.manager,
            "member": self.member,
            "outsider": self.outsider,
            "suspended": self.suspended,
            "client": self.client,
            "other_client": self.other_client,
            "stranger": self.stranger,
        }

    def names(self, user_ids: set[uuid.UUID]) -> set[str]:
        by_id = {c.user_id: name for name, c in self.everyone.items()}
        return {by_id.get(u, str(u)) for u in user_ids}


async def cast(in_process: InProcess, agency: Agency, other: Agency) -> Cast:
    client_id = uuid.uuid4()
    await seed(in_process, agency.owner)
    manager = await join(in_process, agency, "manager", name="Mona Manager")
    member = await join(in_process, agency, "member", name="Ada Lovelace")
    outsider = await join(in_process, agency, "member", name="Otto Outsider")
    on_leave = await join(in_process, agency, "member", name="Sue Suspended")
    client = await join(in_process, agency, "client", name="Cleo Client", client_id=client_id)
    other_client = await join(in_process, agency, "client", name="Olga Other")
    stranger = await join(in_process, other, "manager", name="Stan Stranger")
    await deliver(in_process, suspended(on_leave))
    created = project_created(agency, manager, member, on_leave, client_id=client_id)
    await deliver(in_process, created)
    return Cast(
        agency=agency,
        owner=agency.owner,
        manager=manager,
        member=member,
        outsider=outsider,
        suspended=on_leave,
        client=client,
        other_client=other_client,
        stranger=stranger,
        project_id=uuid.UUID(created.data["project_id"]),
        client_id=client_id,
    )
