"""Keeps time's roster of the agency's people (`team_members`) current from identity's events.

Each handler runs in the consumer runner's transaction under the event's tenant, with the event
id recorded in the inbox, so a redelivered event has no second effect. The writes are upserts
that set only what the event says (never the capacity), so the roster converges whatever order
a person's first events arrive in; identity publishes one agency's events in order."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import (
    AgencyCreated,
    CloudEvent,
    MemberAdded,
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
)
from agencyos.time.team.repository import team_member_repository

NAME_LENGTH = 200


async def on_agency_created(session: AsyncSession, event: CloudEvent) -> None:
    """The owner joins the roster (their `identity.member.added` brings the name)."""
    payload = event.payload(AgencyCreated)
    await team_member_repository.upsert(
        session,
        event.tenantid,
        payload.owner_user_id,
        insert_only=True,
        role="owner",
        status="active",
    )


async def on_member_added(session: AsyncSession, event: CloudEvent) -> None:
    """A new (or returning) member: active with their role; a returning member keeps the
    capacity they had."""
    payload = event.payload(MemberAdded)
    await team_member_repository.upsert(
        session,
        event.tenantid,
        payload.user_id,
        name=payload.name[:NAME_LENGTH],
        role=payload.role,
        status="active",
    )


async def on_member_role_changed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberRoleChanged)
    await team_member_repository.upsert(
        session, event.tenantid, payload.user_id, role=payload.new_role
    )


async def on_member_suspended(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberSuspended)
    await team_member_repository.upsert(
        session, event.tenantid, payload.user_id, status="suspended"
    )


async def on_member_reactivated(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberReactivated)
    await team_member_repository.upsert(session, event.tenantid, payload.user_id, status="active")


async def on_member_removed(session: AsyncSession, event: CloudEvent) -> None:
    """The row stays (as `removed`): the person's logged time still needs a name."""
    payload = event.payload(MemberRemoved)
    await team_member_repository.upsert(
        session, event.tenantid, payload.user_id, role=payload.role, status="removed"
    )


HANDLERS: dict[str, Handler] = {
    AgencyCreated.event_type: on_agency_created,
    MemberAdded.event_type: on_member_added,
    MemberRoleChanged.event_type: on_member_role_changed,
    MemberSuspended.event_type: on_member_suspended,
    MemberReactivated.event_type: on_member_reactivated,
    MemberRemoved.event_type: on_member_removed,
}
