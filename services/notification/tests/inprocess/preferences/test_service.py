"""The preference lookup the event handlers ask before writing a notice or queueing an email:
the person's own choice, else the agency's default for their role, else the catalog's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import Role
from agencyos.notification.kinds import Channel
from agencyos.notification.preferences.repository import save_own_choices, save_role_defaults
from agencyos.notification.preferences.service import effective_channels, effective_channels_for
from agencyos.testing.inprocess import Agency, InProcess

BOTH = frozenset({Channel.IN_APP, Channel.EMAIL})
IN_APP = frozenset({Channel.IN_APP})
EMAIL = frozenset({Channel.EMAIL})
NONE: frozenset[Channel] = frozenset()


@pytest.fixture
async def session(in_process: InProcess, tenant: Agency) -> AsyncIterator[AsyncSession]:
    service = await in_process.service("notification")
    async with service.ctx.database().transaction(tenant.id) as opened:
        yield opened


class TestCatalogDefaults:
    async def test_without_any_choice_a_member_hears_of_an_assigned_task_everywhere(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()

        assert (
            await effective_channels(session, tenant.id, user, Role.MEMBER, "task.assigned") == BOTH
        )

    async def test_without_any_choice_a_completed_task_is_told_in_the_app_only(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()

        found = await effective_channels(session, tenant.id, user, Role.MANAGER, "task.completed")

        assert found == IN_APP


class TestPrecedence:
    async def test_the_agency_default_for_the_role_wins_over_the_catalog(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        await save_role_defaults(
            session,
            tenant.id,
            Role.MEMBER,
            [("task.assigned", Channel.EMAIL, False)],
            updated_by=tenant.owner.user_id,
        )

        found = await effective_channels(session, tenant.id, user, Role.MEMBER, "task.assigned")

        assert found == IN_APP

    async def test_the_agency_default_of_another_role_does_not_apply(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        await save_role_defaults(
            session,
            tenant.id,
            Role.MANAGER,
            [("task.assigned", Channel.EMAIL, False)],
            updated_by=tenant.owner.user_id,
        )

        found = await effective_channels(session, tenant.id, user, Role.MEMBER, "task.assigned")

        assert found == BOTH

    async def test_a_persons_own_choice_wins_over_the_agency_default(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        await save_role_defaults(
            session,
            tenant.id,
            Role.MEMBER,
            [("task.completed", Channel.EMAIL, False), ("task.completed", Channel.IN_APP, False)],
            updated_by=tenant.owner.user_id,
        )
        await save_own_choices(session, tenant.id, user, [("task.completed", Channel.EMAIL, True)])

        found = await effective_channels(session, tenant.id, user, Role.MEMBER, "task.completed")

        assert found == EMAIL

    async def test_another_persons_choice_does_not_apply(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user, colleague = uuid.uuid4(), uuid.uuid4()
        await save_own_choices(
            session, tenant.id, colleague, [("task.assigned", Channel.EMAIL, False)]
        )

        found = await effective_channels(session, tenant.id, user, Role.MEMBER, "task.assigned")

        assert found == BOTH

    async def test_another_agencys_choices_do_not_apply(
        self, in_process: InProcess, tenant: Agency, other_tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        database = (await in_process.service("notification")).ctx.database()
        async with database.transaction(other_tenant.id) as theirs:
            await save_own_choices(
                theirs, other_tenant.id, user, [("task.assigned", Channel.EMAIL, False)]
            )
            await save_role_defaults(
                theirs,
                other_tenant.id,
                Role.MEMBER,
                [("task.assigned", Channel.IN_APP, False)],
                updated_by=other_tenant.owner.user_id,
            )

        async with database.transaction(tenant.id) as ours:
            found = await effective_channels(ours, tenant.id, user, Role.MEMBER, "task.assigned")

        assert found == BOTH


class TestLimits:
    async def test_a_kind_the_role_cannot_receive_is_never_on_whatever_is_stored(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        await save_own_choices(
            session,
            tenant.id,
            user,
            [("invoice.paid", Channel.EMAIL, True), ("invoice.paid", Channel.IN_APP, True)],
        )

        found = await effective_channels(session, tenant.id, user, Role.CLIENT, "invoice.paid")

        assert found == NONE

    async def test_a_channel_the_kind_does_not_have_is_never_on_whatever_is_stored(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        user = uuid.uuid4()
        await save_own_choices(session, tenant.id, user, [("digest.weekly", Channel.IN_APP, True)])

        found = await effective_channels(session, tenant.id, user, Role.MEMBER, "digest.weekly")

        assert found == EMAIL

    async def test_a_kind_not_in_the_catalog_is_a_programming_error(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        with pytest.raises(ValueError, match=r"no\.such\.kind"):
            await effective_channels(session, tenant.id, uuid.uuid4(), Role.MEMBER, "no.such.kind")


class TestManyPeopleAtOnce:
    async def test_each_person_gets_their_own_channels_from_one_query(
        self, session: AsyncSession, tenant: Agency
    ) -> None:
        plain, chooser, manager, client = (uuid.uuid4() for _ in range(4))
        await save_own_choices(
            session, tenant.id, chooser, [("task.assigned", Channel.EMAIL, False)]
        )
        await save_role_defaults(
            session,
            tenant.id,
            Role.MANAGER,
            [("task.assigned", Channel.IN_APP, False)],
            updated_by=tenant.owner.user_id,
        )
        statements: list[str] = []

        def count(*args: object) -> None:
            statements.append(str(args[2]))

        sync_engine = session.bind.sync_engine  # type: ignore[union-attr]
        event.listen(sync_engine, "before_cursor_execute", count)
        try:
            found = await effective_channels_for(
                session,
                tenant.id,
                [
                    (plain, Role.MEMBER),
                    (chooser, Role.MEMBER),
                    (manager, Role.MANAGER),
                    (client, Role.CLIENT),
                ],
                "task.assigned",
            )
        finally:
            event.remove(sync_engine, "before_cursor_execute", count)

        assert found == {plain: BOTH, chooser: IN_APP, manager: EMAIL, client: NONE}
        assert len(statements) == 1

    async def test_nobody_asks_nothing(self, session: AsyncSession, tenant: Agency) -> None:
        assert await effective_channels_for(session, tenant.id, [], "task.assigned") == {}
