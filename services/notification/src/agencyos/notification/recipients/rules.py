"""Who may hear about what: the recipient rules, each a small pure function over the
directory's people and projects (the handlers fetch, these decide).

- Only an active member hears anything: suspended and removed members, people whose
  `identity.member.added` has not arrived, and API keys (never members: identity publishes no
  member events for them) hear nothing.
- Only people of the event's agency are ever looked at (the directory is read under the
  event's tenant, with row-level security), so nobody of another agency is a candidate.
- A kind reaches only the roles it is for (`Kind.roles`): a client user hears only of
  client-facing kinds.
- The one who did what is told (the actor) is never told of it.
- Seeing a project: staff holding `projects.read_all`, or on the project's members; a client
  user only for a project of their own client (and only client-facing kinds, as above). A
  project notification has not heard of (its `work.project.created` not yet here) is seen
  only by those who see every project.
- A project's managers: its members holding `projects.write`. When it has none, its creator
  if they can still see it (an agency where members create their own projects still has
  someone who hears that a task is done); else nobody.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from agencyos.notification.directory.people import Person
from agencyos.notification.directory.projects import Project
from agencyos.notification.kinds import STAFF as STAFF_ROLES
from agencyos.notification.kinds import Kind

READ_ALL_PROJECTS = "projects.read_all"
WRITE_PROJECTS = "projects.write"


def may_hear(person: Person, kind: Kind) -> bool:
    """An active member whose role the kind is for."""
    return person.active and person.role is not None and person.role in kind.roles


def is_staff(person: Person) -> bool:
    return person.active and person.role in STAFF_ROLES


def can_see_project(person: Person, project: Project | None, kind: Kind) -> bool:
    if not may_hear(person, kind):
        return False
    if person.is_client:
        return (
            project is not None
            and project.client_id is not None
            and person.client_id == project.client_id
        )
    if person.can(READ_ALL_PROJECTS):
        return True
    return project is not None and person.user_id in project.member_ids


def project_managers(project: Project, people: Iterable[Person], kind: Kind) -> list[Person]:
    """The project's members holding `projects.write`; else its creator if they can still
    see it; else nobody."""
    everyone = {p.user_id: p for p in people}
    managers = [
        p
        for user_id in sorted(project.member_ids)
        if (p := everyone.get(user_id)) is not None
        and is_staff(p)
        and p.can(WRITE_PROJECTS)
        and can_see_project(p, project, kind)
    ]
    if managers:
        return managers
    creator = everyone.get(project.created_by) if project.created_by else None
    if creator is not None and can_see_project(creator, project, kind):
        return [creator]
    return []


def project_members(project: Project, people: Iterable[Person], kind: Kind) -> list[Person]:
    """The project's members who are active staff and can see it."""
    everyone = {p.user_id: p for p in people}
    return [
        p
        for user_id in sorted(project.member_ids)
        if (p := everyone.get(user_id)) is not None
        and is_staff(p)
        and can_see_project(p, project, kind)
    ]


def holders(permission: str, people: Iterable[Person], kind: Kind) -> list[Person]:
    """Active staff holding `permission`."""
    return [p for p in people if is_staff(p) and p.can(permission) and may_hear(p, kind)]


def client_users(client_id: uuid.UUID | None, people: Iterable[Person], kind: Kind) -> list[Person]:
    """The active client users bound to `client_id` (nobody when there is no client)."""
    if client_id is None:
        return []
    return [p for p in people if p.is_client and p.client_id == client_id and may_hear(p, kind)]


def final(candidates: Iterable[Person], kind: Kind, *, actor_id: uuid.UUID | None) -> list[Person]:
    """The candidates who hear it: each once, never the actor, only those who may hear it."""
    seen: set[uuid.UUID] = set()
    chosen: list[Person] = []
    for person in candidates:
        if person.user_id in seen or person.user_id == actor_id or not may_hear(person, kind):
            continue
        seen.add(person.user_id)
        chosen.append(person)
    return chosen


def holds(person: Person, permission: str, kind: Kind) -> bool:
    """An active staff member holding `permission` (a deal's assignee who may read deals)."""
    return is_staff(person) and person.can(permission) and may_hear(person, kind)
