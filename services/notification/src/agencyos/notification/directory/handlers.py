"""Keeps the directory (people, projects, tasks) current from identity's and work's events.

Each handler runs in the consumer runner's transaction under the event's tenant, with the
event id in the inbox (a redelivery has no second effect). Every write keeps the newer of
what is there and what the event says (people: per part, by event time; projects: by the
state's `changed_at`; tasks: by `task_version`, and a deleted task stays deleted), so the
copy converges whatever order the events arrive in."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import (
    CloudEvent,
    MemberAdded,
    MemberPermissionsChanged,
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
    ProjectCreated,
    ProjectStatusChanged,
    ProjectUpdated,
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskMoved,
    TaskUpdated,
)
from agencyos.notification.directory.people import (
    ACTIVE,
    REMOVED,
    SUSPENDED,
    Access,
    Profile,
    people_repository,
    permissions_of,
)
from agencyos.notification.directory.projects import project_repository
from agencyos.notification.directory.tasks import task_repository

# --- people ---------------------------------------------------------------------------------


async def on_member_added(session: AsyncSession, event: CloudEvent) -> None:
    """A new (or returning) member: profile, access and `active`, as of the event."""
    payload = event.payload(MemberAdded)
    await people_repository.apply(
        session,
        event.tenantid,
        payload.user_id,
        event.time,
        profile=Profile(email=payload.email, name=payload.name),
        access=Access(
            role=payload.role,
            client_id=payload.client_id,
            permissions=permissions_of(payload.role, payload.permissions),
        ),
        status=ACTIVE,
    )


async def on_member_role_changed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberRoleChanged)
    await people_repository.apply(
        session,
        event.tenantid,
        payload.user_id,
        event.time,
        access=Access(
            role=payload.new_role,
            client_id=payload.client_id,
            permissions=permissions_of(payload.new_role, payload.permissions),
        ),
    )


async def on_member_permissions_changed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberPermissionsChanged)
    kept = (await people_repository.by_ids(session, [payload.user_id])).get(payload.user_id)
    await people_repository.apply(
        session,
        event.tenantid,
        payload.user_id,
        event.time,
        access=Access(
            role=payload.role,
            # a permissions change never moves a member to another client
            client_id=kept.client_id if kept is not None else None,
            permissions=permissions_of(payload.role, payload.permissions),
        ),
    )


async def on_member_suspended(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberSuspended)
    await people_repository.apply(
        session, event.tenantid, payload.user_id, event.time, status=SUSPENDED
    )


async def on_member_reactivated(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberReactivated)
    await people_repository.apply(
        session, event.tenantid, payload.user_id, event.time, status=ACTIVE
    )


async def on_member_removed(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(MemberRemoved)
    await people_repository.apply(
        session, event.tenantid, payload.user_id, event.time, status=REMOVED
    )


# --- projects -------------------------------------------------------------------------------


async def on_project_created(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(ProjectCreated)
    if payload.project is not None:
        await project_repository.apply(session, event.tenantid, payload.project_id, payload.project)
    else:
        await project_repository.first_seen(
            session,
            event.tenantid,
            payload.project_id,
            name=payload.name,
            client_id=payload.client_id,
            status="planning",
        )
    if payload.created_by is not None:
        await project_repository.set_creator(session, payload.project_id, payload.created_by)


async def on_project_changed(session: AsyncSession, event: CloudEvent) -> None:
    """`work.project.updated` / `.status_changed`: the state they carry (older events
    without it change nothing)."""
    payload = (
        event.payload(ProjectUpdated)
        if event.type == ProjectUpdated.event_type
        else event.payload(ProjectStatusChanged)
    )
    if payload.project is not None:
        await project_repository.apply(session, event.tenantid, payload.project_id, payload.project)


# --- tasks ----------------------------------------------------------------------------------


def _keep_task(kind: type[TaskCreated | TaskUpdated | TaskMoved | TaskCompleted]) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        await task_repository.apply(session, event.tenantid, event.payload(kind))

    handle.__name__ = f"keep_{kind.event_type.replace('.', '_')}"
    return handle


async def on_task_deleted(session: AsyncSession, event: CloudEvent) -> None:
    """The digests never list a deleted task again."""
    await task_repository.forget(session, event.tenantid, event.payload(TaskDeleted))


DIRECTORY_HANDLERS: dict[str, Handler] = {
    MemberAdded.event_type: on_member_added,
    MemberRoleChanged.event_type: on_member_role_changed,
    MemberPermissionsChanged.event_type: on_member_permissions_changed,
    MemberSuspended.event_type: on_member_suspended,
    MemberReactivated.event_type: on_member_reactivated,
    MemberRemoved.event_type: on_member_removed,
    ProjectCreated.event_type: on_project_created,
    ProjectUpdated.event_type: on_project_changed,
    ProjectStatusChanged.event_type: on_project_changed,
    **{
        kind.event_type: _keep_task(kind)
        for kind in (TaskCreated, TaskUpdated, TaskMoved, TaskCompleted)
    },
    TaskDeleted.event_type: on_task_deleted,
}
