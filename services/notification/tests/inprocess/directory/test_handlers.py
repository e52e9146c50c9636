"""notification's directory (people, projects, tasks) from identity's and work's events,
handed to its own consumer runner: what is kept, that a late or repeated event never
undoes a newer one, and that a deleted task stays deleted (the digests never list it)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from agencyos.common.events import (
    CloudEvent,
    MemberPermissionsChanged,
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
    ProjectCreated,
    ProjectState,
    ProjectStatusChanged,
    TaskCompleted,
    TaskDeleted,
    TaskUpdated,
)
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.directory.tasks import task_repository
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import deliver, event_of, member_added

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def person(in_process: InProcess, who: Caller) -> dict[str, Any] | None:
    service = await in_process.service("notification")
    found = await service.rows(
        "SELECT * FROM people WHERE user_id = $1", who.user_id, tenant_id=who.agency_id
    )
    return dict(found[0]) if found else None


def suspended(who: Caller, minutes: int) -> CloudEvent:
    return event_of(
        MemberSuspended(agency_id=who.agency_id, user_id=who.user_id, suspended_by=uuid.uuid4()),
        who.agency_id,
        at=at(minutes),
    )


def reactivated(who: Caller, minutes: int) -> CloudEvent:
    return event_of(
        MemberReactivated(
            agency_id=who.agency_id, user_id=who.user_id, reactivated_by=uuid.uuid4()
        ),
        who.agency_id,
        at=at(minutes),
    )


def removed(who: Caller, minutes: int) -> CloudEvent:
    return event_of(
        MemberRemoved(
            agency_id=who.agency_id, user_id=who.user_id, role=who.role, removed_by=uuid.uuid4()
        ),
        who.agency_id,
        at=at(minutes),
    )


def role_changed(
    who: Caller, new_role: str, minutes: int, permissions: list[str] | None = None
) -> CloudEvent:
    return event_of(
        MemberRoleChanged(
            agency_id=who.agency_id,
            user_id=who.user_id,
            old_role=who.role,
            new_role=new_role,
            changed_by=uuid.uuid4(),
            permissions=permissions,
        ),
        who.agency_id,
        at=at(minutes),
    )


class TestPeople:
    async def test_a_member_added_is_kept_with_the_role_defaults_when_no_permissions_are_told(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("manager")

        await deliver(in_process, member_added(who, name="Ada Lovelace", email="ada@example.com"))

        kept = await person(in_process, who)
        assert kept is not None
        assert (kept["email"], kept["name"], kept["role"], kept["status"]) == (
            "ada@example.com",
            "Ada Lovelace",
            "manager",
            "active",
        )
        assert set(kept["permissions"]) == DEFAULT_ROLE_PERMISSIONS[Role.MANAGER]

    async def test_permissions_told_by_the_event_are_kept_as_told(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(in_process, member_added(who, permissions=["invoices.read"]))

        kept = await person(in_process, who)
        assert kept is not None
        assert kept["permissions"] == ["invoices.read"]

    async def test_a_client_user_is_kept_with_their_client(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("client")

        await deliver(in_process, member_added(who))

        kept = await person(in_process, who)
        assert kept is not None
        assert kept["client_id"] == who.client_id

    async def test_role_and_permission_changes_replace_the_access(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")
        tuned = event_of(
            MemberPermissionsChanged(
                agency_id=who.agency_id,
                user_id=who.user_id,
                role="manager",
                permissions=["projects.write"],
                changed_by=uuid.uuid4(),
            ),
            who.agency_id,
            at=at(2),
        )

        await deliver(
            in_process, member_added(who, at=at(0)), role_changed(who, "manager", 1), tuned
        )

        kept = await person(in_process, who)
        assert kept is not None
        assert (kept["role"], kept["permissions"]) == ("manager", ["projects.write"])

    async def test_suspension_removal_and_reactivation_set_the_status(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")
        seen = []
        await deliver(in_process, member_added(who, at=at(0)))
        for event in (suspended(who, 1), reactivated(who, 2), removed(who, 3)):
            await deliver(in_process, event)
            kept = await person(in_process, who)
            assert kept is not None
            seen.append(kept["status"])

        assert seen == ["suspended", "active", "removed"]

    async def test_people_of_another_agency_are_not_seen(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        stranger = other_tenant.caller("member")
        await deliver(in_process, member_added(stranger))
        service = await in_process.service("notification")

        found = await service.rows(
            "SELECT user_id FROM people WHERE user_id = $1",
            stranger.user_id,
            tenant_id=tenant.id,
        )

        assert found == []


class TestPeopleOrdering:
    async def test_a_late_suspension_does_not_undo_a_newer_reactivation(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(
            in_process, member_added(who, at=at(0)), reactivated(who, 2), suspended(who, 1)
        )

        kept = await person(in_process, who)
        assert kept is not None
        assert kept["status"] == "active"

    async def test_a_late_member_added_does_not_bring_a_removed_member_back(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(in_process, removed(who, 5), member_added(who, at=at(0)))

        kept = await person(in_process, who)
        assert kept is not None
        assert (kept["status"], kept["name"]) == ("removed", f"Member {who.user_id.hex[:6]}")

    async def test_a_member_added_again_after_removal_is_active_again(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(in_process, member_added(who, at=at(0)), removed(who, 1))
        await deliver(in_process, member_added(who, at=at(2)))

        kept = await person(in_process, who)
        assert kept is not None
        assert kept["status"] == "active"

    async def test_a_late_role_change_does_not_undo_a_newer_one(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(
            in_process,
            member_added(who, at=at(0)),
            role_changed(who, "admin", 2),
            role_changed(who, "manager", 1),
        )

        kept = await person(in_process, who)
        assert kept is not None
        assert kept["role"] == "admin"
        assert set(kept["permissions"]) == DEFAULT_ROLE_PERMISSIONS[Role.ADMIN]

    async def test_a_role_change_that_came_first_survives_the_older_member_added(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")

        await deliver(in_process, role_changed(who, "manager", 3), member_added(who, at=at(0)))

        kept = await person(in_process, who)
        assert kept is not None
        assert (kept["role"], kept["email"]) == ("manager", f"{who.user_id.hex[:10]}@example.com")

    async def test_the_same_event_delivered_again_changes_nothing(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        who = tenant.caller("member")
        suspension = suspended(who, 1)

        outcomes = await deliver(
            in_process, member_added(who, at=at(0)), suspension, reactivated(who, 2), suspension
        )

        assert outcomes == ["ok", "ok", "ok", "duplicate"]
        kept = await person(in_process, who)
        assert kept is not None
        assert kept["status"] == "active"


def state(name: str, members: list[uuid.UUID], changed_at: datetime, **fields: Any) -> ProjectState:
    return ProjectState(
        name=name,
        client_id=fields.get("client_id"),
        status=fields.get("status", "active"),
        billing_type="fixed",
        hourly_rate_cents=None,
        currency="EUR",
        member_ids=members,
        changed_at=changed_at,
    )


async def project_row(in_process: InProcess, tenant: Agency, project_id: uuid.UUID) -> Any:
    service = await in_process.service("notification")
    [row] = await service.rows(
        "SELECT * FROM projects WHERE id = $1", project_id, tenant_id=tenant.id
    )
    return row


class TestProjects:
    async def test_a_created_project_is_kept_with_its_members_client_and_creator(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        project_id, client_id, creator = uuid.uuid4(), uuid.uuid4(), tenant.owner.user_id
        created = ProjectCreated(
            project_id=project_id,
            name="Website",
            client_id=client_id,
            deal_id=None,
            created_by=creator,
            project=state("Website", [creator], at(0), client_id=client_id),
        )

        await deliver(in_process, event_of(created, tenant.id))

        row = await project_row(in_process, tenant, project_id)
        assert (row["name"], row["client_id"], row["member_ids"], row["created_by"]) == (
            "Website",
            client_id,
            [creator],
            creator,
        )

    async def test_an_older_state_delivered_late_does_not_replace_a_newer_one(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        project_id, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

        def status_changed(members: list[uuid.UUID], minutes: int, status: str) -> CloudEvent:
            return event_of(
                ProjectStatusChanged(
                    project_id=project_id,
                    client_id=None,
                    old_status="active",
                    new_status=status,
                    changed_by=None,
                    project=state("Site", members, at(minutes), status=status),
                ),
                tenant.id,
            )

        await deliver(
            in_process, status_changed([a, b], 2, "on_hold"), status_changed([a], 1, "active")
        )

        row = await project_row(in_process, tenant, project_id)
        assert (row["status"], set(row["member_ids"])) == ("on_hold", {a, b})


def task_event(
    kind: type[TaskUpdated] | type[TaskCompleted],
    task_id: uuid.UUID,
    version: int,
    **fields: Any,
) -> TaskUpdated | TaskCompleted:
    common: dict[str, Any] = {
        "task_id": task_id,
        "project_id": fields.get("project_id", uuid.uuid4()),
        "title": fields.get("title", "Homepage copy"),
        "status": fields.get("status", "todo"),
        "column_id": uuid.uuid4(),
        "assignee_ids": fields.get("assignee_ids", []),
        "visible_to_client": False,
        "task_version": version,
        "actor_id": None,
        "due_date": fields.get("due_date"),
    }
    if kind is TaskCompleted:
        return TaskCompleted(**common, completed_at=at(0))
    return TaskUpdated(**common, changed_fields=["title"])


class TestTasks:
    async def test_the_newest_task_version_wins_whatever_order_it_arrives_in(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        task_id, assignee = uuid.uuid4(), uuid.uuid4()
        done = task_event(TaskCompleted, task_id, 3, status="done", assignee_ids=[assignee])
        older = task_event(TaskUpdated, task_id, 2, title="Old title", due_date=date(2026, 12, 2))

        await deliver(in_process, event_of(done, tenant.id), event_of(older, tenant.id))

        service = await in_process.service("notification")
        [row] = await service.rows(
            "SELECT title, status, assignee_ids, task_version FROM tasks WHERE id = $1",
            task_id,
            tenant_id=tenant.id,
        )
        assert (row["title"], row["status"], row["assignee_ids"], row["task_version"]) == (
            "Homepage copy",
            "done",
            [assignee],
            3,
        )


def task_deleted(task_id: uuid.UUID, project_id: uuid.UUID | None = None) -> TaskDeleted:
    return TaskDeleted(
        task_id=task_id,
        project_id=project_id or uuid.uuid4(),
        column_id=uuid.uuid4(),
        title="Homepage copy",
        visible_to_client=False,
        actor_id=uuid.uuid4(),
    )


async def task_row(in_process: InProcess, tenant: Agency, task_id: uuid.UUID) -> dict[str, Any]:
    service = await in_process.service("notification")
    [row] = await service.rows(
        "SELECT status, assignee_ids, due_date FROM tasks WHERE id = $1",
        task_id,
        tenant_id=tenant.id,
    )
    return dict(row)


async def due_for(
    in_process: InProcess, tenant: Agency, user_id: uuid.UUID, until: date
) -> list[uuid.UUID]:
    """The ids of the open tasks the digests would list for `user_id` (due by `until`)."""
    service = await in_process.service("notification")
    async with service.ctx.database().transaction(tenant.id) as session:
        tasks = await task_repository.open_assigned_due(session, user_id, until=until)
    return [t.id for t in tasks]


class TestDeletedTasks:
    async def test_a_deleted_task_leaves_the_digests(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        assignee = uuid.uuid4()
        kept, deleted = uuid.uuid4(), uuid.uuid4()
        due = date(2026, 12, 2)
        for task_id in (kept, deleted):
            told = task_event(TaskUpdated, task_id, 1, assignee_ids=[assignee], due_date=due)
            await deliver(in_process, event_of(told, tenant.id))
        assert set(await due_for(in_process, tenant, assignee, due)) == {kept, deleted}

        outcome = await deliver(in_process, event_of(task_deleted(deleted), tenant.id))

        assert outcome == ["ok"]
        assert await due_for(in_process, tenant, assignee, due) == [kept]
        assert await task_row(in_process, tenant, deleted) == {
            "status": "deleted",
            "assignee_ids": [],
            "due_date": None,
        }

    async def test_an_update_arriving_after_the_deletion_does_not_bring_it_back(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        assignee, task_id = uuid.uuid4(), uuid.uuid4()
        due = date(2026, 12, 2)
        created = task_event(TaskUpdated, task_id, 1, assignee_ids=[assignee], due_date=due)
        late = task_event(TaskUpdated, task_id, 2, assignee_ids=[assignee], due_date=due)

        await deliver(
            in_process,
            event_of(created, tenant.id),
            event_of(task_deleted(task_id), tenant.id),
            event_of(late, tenant.id),
        )

        assert await due_for(in_process, tenant, assignee, due) == []
        assert (await task_row(in_process, tenant, task_id))["status"] == "deleted"

    async def test_a_deletion_arriving_before_the_task_keeps_it_out(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        assignee, task_id = uuid.uuid4(), uuid.uuid4()
        due = date(2026, 12, 2)
        created = task_event(TaskUpdated, task_id, 1, assignee_ids=[assignee], due_date=due)

        await deliver(in_process, event_of(task_deleted(task_id), tenant.id))
        await deliver(in_process, event_of(created, tenant.id))

        assert await due_for(in_process, tenant, assignee, due) == []

    async def test_a_deletion_of_another_agencys_task_id_touches_nothing_here(
        self,
        in_process: InProcess,
        notification: httpx.AsyncClient,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        assignee, task_id = uuid.uuid4(), uuid.uuid4()
        due = date(2026, 12, 2)
        mine = task_event(TaskUpdated, task_id, 1, assignee_ids=[assignee], due_date=due)
        await deliver(in_process, event_of(mine, tenant.id))

        await deliver(in_process, event_of(task_deleted(task_id), other_tenant.id))

        assert await due_for(in_process, tenant, assignee, due) == [task_id]

    async def test_a_repeated_deletion_is_a_duplicate(
        self, in_process: InProcess, notification: httpx.AsyncClient, tenant: Agency
    ) -> None:
        deletion = event_of(task_deleted(uuid.uuid4()), tenant.id)

        outcomes = await deliver(in_process, deletion, deletion)

        assert outcomes == ["ok", "duplicate"]
