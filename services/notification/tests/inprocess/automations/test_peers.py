"""GrpcAutomationPeers: the automation engine's actions in work and CRM, each as the rule's
author with a delegated token from identity (here identity's, work's and CRM's stand-ins,
over real gRPC; the whole chain with the real services is the platform tier's): the token is
asked for with the service credential, kept until shortly before it expires, and an author who
is no longer an active member gets nothing done."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from agencyos.common.errors import NotFound, PermissionDenied, PreconditionFailed
from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.notification.automations.peers import GrpcAutomationPeers
from agencyos.notification.settings import NotificationSettings
from agencyos.testing.inprocess import Agency, InProcess


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def peers(in_process: InProcess, clock: Clock) -> GrpcAutomationPeers:
    """Built as notification builds them: its settings (the stand-ins' targets, its service
    credential) and its own token verifier."""
    service = await in_process.service("notification")
    built = GrpcAutomationPeers.of(service.settings, service.ctx.verifier)
    built.clock = clock
    return built


def issued_for(in_process: InProcess, tenant: Agency) -> list[tuple[uuid.UUID, str]]:
    return [(u, p) for t, u, p in in_process.standins.identity.delegated if t == tenant.id]


class TestCreateTask:
    async def test_a_task_is_created_as_the_author(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        assignee = tenant.caller("member")
        project = tenant.new_project(assignee)

        task_id = await peers.create_task(
            tenant_id=tenant.id,
            acting_user_id=manager.user_id,
            project_id=uuid.UUID(project["id"]),
            title="Kick-off",
            description="Book the room",
            assignee_id=assignee.user_id,
            due_date=date(2026, 12, 24),
        )

        made = [
            (who, r) for who, r in in_process.standins.work.created_tasks if r.title == "Kick-off"
        ]
        assert [who for who, _ in made] == [manager.user_id]
        request = made[0][1]
        assert request.project_id == project["id"]
        assert request.description == "Book the room"
        assert request.assignee_id == str(assignee.user_id)
        assert request.due_date == "2026-12-24"
        assert (tenant.id, task_id) in in_process.standins.work.tasks
        assert issued_for(in_process, tenant) == [(manager.user_id, "automation")]

    async def test_a_project_of_another_agency_is_not_found(
        self, peers: GrpcAutomationPeers, tenant: Agency, other_tenant: Agency
    ) -> None:
        theirs = other_tenant.new_project()
        with pytest.raises(NotFound):
            await peers.create_task(
                tenant_id=tenant.id,
                acting_user_id=tenant.owner.user_id,
                project_id=uuid.UUID(theirs["id"]),
                title="Sneaky",
                description=None,
                assignee_id=None,
                due_date=None,
            )


class TestAddTimelineEntry:
    async def test_a_note_is_added_as_the_author(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        client_id = in_process.standins.crm.add_client(tenant.id)

        entry_id = await peers.add_timeline_entry(
            tenant_id=tenant.id,
            acting_user_id=manager.user_id,
            client_id=client_id,
            title="Deal won",
            body=None,
        )

        [(_, author, request)] = [e for e in in_process.standins.crm.timeline if e[0] == entry_id]
        assert author == manager.user_id
        assert request.client_id == str(client_id)
        assert request.body == ""

    async def test_an_author_without_clients_write_is_refused(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        client_id = in_process.standins.crm.add_client(tenant.id)
        with pytest.raises(PermissionDenied):
            await peers.add_timeline_entry(
                tenant_id=tenant.id,
                acting_user_id=member.user_id,
                client_id=client_id,
                title="Nope",
                body=None,
            )


class TestTheAuthorsToken:
    async def test_one_token_serves_actions_until_shortly_before_it_expires(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency, clock: Clock
    ) -> None:
        client_id = in_process.standins.crm.add_client(tenant.id)

        async def act() -> None:
            await peers.add_timeline_entry(
                tenant_id=tenant.id,
                acting_user_id=tenant.owner.user_id,
                client_id=client_id,
                title="Tick",
                body=None,
            )

        await act()
        clock.now += 200
        await act()
        assert len(issued_for(in_process, tenant)) == 1
        clock.now += 41  # 241 s after the 300 s token was asked for: under a minute left
        await act()
        assert len(issued_for(in_process, tenant)) == 2

    async def test_each_author_has_their_own_token(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency
    ) -> None:
        client_id = in_process.standins.crm.add_client(tenant.id)
        authors = [tenant.owner, tenant.caller("manager")]
        for author in authors:
            await peers.add_timeline_entry(
                tenant_id=tenant.id,
                acting_user_id=author.user_id,
                client_id=client_id,
                title="Mine",
                body=None,
            )
        assert [u for u, _ in issued_for(in_process, tenant)] == [a.user_id for a in authors]
        assert [
            a for _, a, r in in_process.standins.crm.timeline if r.client_id == str(client_id)
        ] == [a.user_id for a in authors]

    async def test_a_suspended_author_gets_nothing_done(
        self, peers: GrpcAutomationPeers, in_process: InProcess, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        in_process.standins.identity.set_status(tenant.id, manager.user_id, "suspended")
        client_id = in_process.standins.crm.add_client(tenant.id)

        with pytest.raises(PreconditionFailed):
            await peers.add_timeline_entry(
                tenant_id=tenant.id,
                acting_user_id=manager.user_id,
                client_id=client_id,
                title="Nope",
                body=None,
            )

        assert not [e for e in in_process.standins.crm.timeline if e[1] == manager.user_id]

    async def test_an_author_of_another_agency_gets_no_token_here(
        self, peers: GrpcAutomationPeers, tenant: Agency, other_tenant: Agency
    ) -> None:
        project = tenant.new_project()
        with pytest.raises(PreconditionFailed):
            await peers.create_task(
                tenant_id=tenant.id,
                acting_user_id=other_tenant.owner.user_id,
                project_id=uuid.UUID(project["id"]),
                title="Sneaky",
                description=None,
                assignee_id=None,
                due_date=None,
            )


class TestSettings:
    def test_production_refuses_the_development_service_credential(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="SERVICE_CREDENTIAL"):
            refuse_development_defaults(NotificationSettings(environment="production"))
