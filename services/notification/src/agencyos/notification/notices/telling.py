"""Telling people about one event: the directory lookups a handler needs (cached for the
event), the people it names, and `tell`, which applies the last rules (the actor never,
each person once, only those the kind is for), asks each person's channels and writes the
in-app row and the email.

A person named by an event whom the directory does not know yet (their
`identity.member.added` may still be on its way: identity and the other services publish
on different topics) is not dropped: the event is parked in `waiting_notices` for them, and
made again for them alone when they join (`agencyos.notification.notices.waiting`). Parked
events older than `WAITING_DAYS` are dropped then (stale news; and an id that never joins,
such as an API key's, does not pile up for ever)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent
from agencyos.common.permissions import Role
from agencyos.notification.directory.people import Person, people_repository
from agencyos.notification.directory.projects import Project, project_repository
from agencyos.notification.kinds import KINDS
from agencyos.notification.models import WaitingNotice
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.outlets import deliver_notice
from agencyos.notification.preferences.service import effective_channels_for
from agencyos.notification.recipients.rules import final

WAITING_DAYS = 7


class Telling:
    def __init__(
        self, session: AsyncSession, event: CloudEvent, *, only: uuid.UUID | None = None
    ) -> None:
        self.session = session
        self.event = event
        self.tenant_id = event.tenantid
        # Set when a parked event is made again for the one person it waited for: nobody
        # else hears it (they did the first time), and nothing is parked again.
        self.only = only
        self._people: dict[uuid.UUID, Person | None] = {}
        self._projects: dict[uuid.UUID, Project | None] = {}
        self._everyone: list[Person] | None = None

    # --- the directory ----------------------------------------------------------------------

    async def people(self, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, Person]:
        wanted = {u for u in user_ids if u is not None}
        missing = wanted - self._people.keys()
        if missing:
            found = await people_repository.by_ids(self.session, missing)
            for user_id in missing:
                self._people[user_id] = found.get(user_id)
        return {u: p for u in wanted if (p := self._people[u]) is not None}

    async def person(self, user_id: uuid.UUID | None) -> Person | None:
        return (await self.people([user_id])).get(user_id) if user_id else None

    async def name_of(self, user_id: uuid.UUID | None) -> str | None:
        """The person's name as the directory knows it (None: not known)."""
        found = await self.person(user_id)
        return found.display_name if found is not None and found.known else None

    async def everyone(self) -> list[Person]:
        """Every active member of the agency."""
        if self._everyone is None:
            self._everyone = await people_repository.active(self.session)
        return self._everyone

    async def holding(self, permission: str) -> list[Person]:
        return await people_repository.holding(self.session, permission)

    async def project(self, project_id: uuid.UUID) -> Project | None:
        if project_id not in self._projects:
            self._projects[project_id] = await project_repository.get(self.session, project_id)
        return self._projects[project_id]

    async def named(self, *user_ids: uuid.UUID | None) -> list[Person]:
        """The people the event names, as the directory knows them; those it does not know
        yet are parked for (see the module's docstring)."""
        wanted = list(dict.fromkeys(u for u in user_ids if u is not None))
        found = await self.people(wanted)
        unknown = [u for u in wanted if u not in found or not found[u].known]
        if self.only is None:
            for user_id in unknown:
                await self._park(user_id)
        return [found[u] for u in wanted if u in found and found[u].known]

    async def _park(self, user_id: uuid.UUID) -> None:
        self.session.add(
            WaitingNotice(
                tenant_id=self.tenant_id,
                id=uuid.uuid4(),
                user_id=user_id,
                event=self.event.model_dump(mode="json"),
                created_at=self.event.time,
            )
        )
        await self.session.flush()

    # --- telling ----------------------------------------------------------------------------

    async def tell(self, notice: Notice, candidates: Iterable[Person]) -> list[uuid.UUID]:
        """Tell `notice` to those of `candidates` who hear it; answers who was told."""
        kind = KINDS[notice.kind]
        chosen = [
            p
            for p in final(candidates, kind, actor_id=notice.actor_id)
            if self.only is None or p.user_id == self.only
        ]
        if not chosen:
            return []
        channels = await effective_channels_for(
            self.session, self.tenant_id, [(p.user_id, _role(p)) for p in chosen], kind.name
        )
        for person in chosen:
            await deliver_notice(
                self.session,
                tenant_id=self.tenant_id,
                source_event_id=self.event.id,
                person=person,
                notice=notice,
                channels=channels.get(person.user_id, frozenset()),
            )
        return [p.user_id for p in chosen]


def _role(person: Person) -> Role:
    assert person.role is not None, "only people with a role are told anything"
    return person.role
