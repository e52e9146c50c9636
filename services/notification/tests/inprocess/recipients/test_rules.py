"""The recipient rules on their own: who may hear a kind, who sees a project, who manages
it, who holds a permission, and the last filter (never the actor, each person once)."""

from __future__ import annotations

import uuid

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.directory.people import Person
from agencyos.notification.directory.projects import Project
from agencyos.notification.kinds import KINDS
from agencyos.notification.recipients.rules import (
    can_see_project,
    client_users,
    final,
    holders,
    may_hear,
    project_managers,
)

STAFF_KIND = KINDS["task.completed"]
CLIENT_KIND = KINDS["deliverable.submitted"]
CLIENT = uuid.uuid4()


def person(
    role: Role,
    *,
    status: str = "active",
    known: bool = True,
    client_id: uuid.UUID | None = None,
    permissions: frozenset[str] | None = None,
) -> Person:
    return Person(
        user_id=uuid.uuid4(),
        email="someone@example.com",
        name="Someone",
        role=role,
        client_id=client_id,
        permissions=DEFAULT_ROLE_PERMISSIONS[role] if permissions is None else permissions,
        status=status,
        known=known,
    )


def project(*members: Person, created_by: Person | None = None) -> Project:
    return Project(
        id=uuid.uuid4(),
        name="Site",
        client_id=CLIENT,
        status="active",
        member_ids=frozenset(m.user_id for m in members),
        created_by=created_by.user_id if created_by else None,
    )


class TestMayHear:
    def test_an_active_member_hears_a_kind_for_their_role(self) -> None:
        assert may_hear(person(Role.MEMBER), STAFF_KIND)

    def test_suspended_removed_and_not_yet_known_people_hear_nothing(self) -> None:
        assert not may_hear(person(Role.MEMBER, status="suspended"), STAFF_KIND)
        assert not may_hear(person(Role.MEMBER, status="removed"), STAFF_KIND)
        assert not may_hear(person(Role.MEMBER, known=False), STAFF_KIND)

    def test_a_client_user_hears_only_client_facing_kinds(self) -> None:
        client = person(Role.CLIENT, client_id=CLIENT)

        assert may_hear(client, CLIENT_KIND)
        assert not may_hear(client, STAFF_KIND)


class TestCanSeeProject:
    def test_a_member_on_the_project_sees_it_and_one_not_on_it_does_not(self) -> None:
        on, off = person(Role.MEMBER), person(Role.MEMBER)
        site = project(on)

        assert can_see_project(on, site, STAFF_KIND)
        assert not can_see_project(off, site, STAFF_KIND)

    def test_staff_who_read_every_project_see_it_without_being_on_it(self) -> None:
        assert can_see_project(person(Role.MANAGER), project(), STAFF_KIND)

    def test_a_project_not_known_is_seen_only_by_those_who_read_every_project(self) -> None:
        assert can_see_project(person(Role.OWNER), None, STAFF_KIND)
        assert not can_see_project(person(Role.MEMBER), None, STAFF_KIND)

    def test_a_client_user_sees_only_their_own_clients_project(self) -> None:
        own = person(Role.CLIENT, client_id=CLIENT)
        other = person(Role.CLIENT, client_id=uuid.uuid4())

        assert can_see_project(own, project(), CLIENT_KIND)
        assert not can_see_project(other, project(), CLIENT_KIND)


class TestProjectManagers:
    def test_the_members_holding_projects_write_manage_it(self) -> None:
        manager, member, outsider_manager = (
            person(Role.MANAGER),
            person(Role.MEMBER),
            person(Role.MANAGER),
        )

        found = project_managers(
            project(manager, member), [manager, member, outsider_manager], STAFF_KIND
        )

        assert found == [manager]

    def test_a_suspended_manager_does_not_manage_it(self) -> None:
        away = person(Role.MANAGER, status="suspended")
        creator = person(Role.MEMBER)

        assert project_managers(
            project(away, creator, created_by=creator), [away, creator], STAFF_KIND
        ) == [creator]

    def test_without_managers_the_creator_who_still_sees_it_is_told_and_else_nobody(self) -> None:
        creator, member = person(Role.MEMBER), person(Role.MEMBER)

        assert project_managers(
            project(creator, member, created_by=creator), [creator, member], STAFF_KIND
        ) == [creator]
        assert (
            project_managers(project(member, created_by=creator), [creator, member], STAFF_KIND)
            == []
        )


class TestHolders:
    def test_active_staff_holding_the_permission_and_nobody_else(self) -> None:
        owner, member = person(Role.OWNER), person(Role.MEMBER)
        granted = person(Role.MEMBER, permissions=frozenset({"invoices.read"}))
        client = person(Role.CLIENT, permissions=frozenset({"invoices.read"}))
        away = person(Role.ADMIN, status="suspended")

        found = holders("invoices.read", [owner, member, granted, client, away], STAFF_KIND)

        assert found == [owner, granted]


class TestClientUsers:
    def test_the_active_users_of_that_client_only(self) -> None:
        own = person(Role.CLIENT, client_id=CLIENT)
        other = person(Role.CLIENT, client_id=uuid.uuid4())
        away = person(Role.CLIENT, client_id=CLIENT, status="removed")

        assert client_users(CLIENT, [own, other, away], CLIENT_KIND) == [own]
        assert client_users(None, [own], CLIENT_KIND) == []


class TestFinal:
    def test_never_the_actor_and_each_person_once(self) -> None:
        actor, other = person(Role.MEMBER), person(Role.MEMBER)

        assert final([actor, other, other], STAFF_KIND, actor_id=actor.user_id) == [other]
