"""An automation's actions through the whole platform: notification's GrpcAutomationPeers,
built in the test process from the platform's settings and service credential, acts as a
rule's author with no person present (identity's delegated token; work's CreateTask and CRM's
AddTimelineEntry over real gRPC), and what it did is there for people through the gateway.
Once the author is suspended, nothing more gets done in their name."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest

from agencyos.common.auth import JwksVerifier
from agencyos.common.errors import PreconditionFailed, Unauthenticated
from agencyos.notification.automations.peers import GrpcAutomationPeers
from agencyos.notification.settings import NotificationSettings
from agencyos.testing.factories import AgencySession, add_member, create_crm_client, new_project
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


def settings_of(platform: Platform, *, credential: str | None = None) -> NotificationSettings:
    return NotificationSettings(
        identity_grpc_target=platform.grpc_target("identity"),
        work_grpc_target=platform.grpc_target("work"),
        crm_grpc_target=platform.grpc_target("crm"),
        service_credential=platform.service_credential if credential is None else credential,
        jwks_url=f"{platform.url('identity')}/.well-known/jwks.json",
        grpc_timeout_seconds=10.0,
    )


@pytest.fixture
async def verifier(platform: Platform) -> AsyncIterator[JwksVerifier]:
    settings = settings_of(platform)
    found = JwksVerifier(
        settings.jwks_url, issuer=settings.jwt_issuer, audience=settings.jwt_audience
    )
    yield found
    await found.close()


@pytest.fixture
def peers(platform: Platform, verifier: JwksVerifier) -> GrpcAutomationPeers:
    """Notification's peers as the platform's notification builds them."""
    return GrpcAutomationPeers.of(settings_of(platform), verifier)


async def get(gateway: httpx.AsyncClient, who: AgencySession, path: str) -> Any:
    response = await gateway.get(path, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def create_task(
    peers: GrpcAutomationPeers, author: AgencySession, project_id: str, title: str
) -> uuid.UUID:
    return await peers.create_task(
        tenant_id=author.agency_id,
        acting_user_id=author.user_id,
        project_id=uuid.UUID(project_id),
        title=title,
        description="Made by an automation",
        assignee_id=author.user_id,
        due_date=date(2026, 12, 24),
    )


async def add_entry(
    peers: GrpcAutomationPeers, author: AgencySession, client_id: uuid.UUID, title: str
) -> uuid.UUID:
    return await peers.add_timeline_entry(
        tenant_id=author.agency_id,
        acting_user_id=author.user_id,
        client_id=client_id,
        title=title,
        body="Logged by an automation",
    )


class TestDelegatedActions:
    async def test_a_managers_automation_creates_a_task_and_logs_a_note_until_suspended(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        peers: GrpcAutomationPeers,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        project = await new_project(gateway, agency, manager)
        client_id = await create_crm_client(platform, agency)

        task_id = await create_task(peers, manager, project["id"], "Kick-off call")
        entry_id = await add_entry(peers, manager, client_id, "Deal won")

        task = await get(gateway, agency, f"/v1/tasks/{task_id}")
        assert task["title"] == "Kick-off call"
        assert task["description"] == "Made by an automation"
        assert task["created_by"] == str(manager.user_id)
        assert task["assignee_ids"] == [str(manager.user_id)]
        assert task["due_date"] == "2026-12-24"
        timeline = await get(gateway, agency, f"/v1/clients/{client_id}/timeline")
        [entry] = [e for e in timeline["items"] if e["id"] == str(entry_id)]
        assert entry["kind"] == "note"
        assert entry["title"] == "Deal won"
        assert entry["body"] == "Logged by an automation"
        assert entry["actor_id"] == str(manager.user_id)

        suspended = await gateway.post(
            f"/v1/members/{manager.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        # The token kept from before is refused as revoked; a new one is refused to a
        # suspended member.
        with pytest.raises(PreconditionFailed):
            await create_task(peers, manager, project["id"], "After suspension")
        with pytest.raises(PreconditionFailed):
            await add_entry(peers, manager, client_id, "After suspension")
        tasks = await get(gateway, agency, f"/v1/projects/{project['id']}/tasks")
        assert [t["title"] for t in tasks["items"]] == ["Kick-off call"]
        timeline = await get(gateway, agency, f"/v1/clients/{client_id}/timeline")
        assert [e["title"] for e in timeline["items"]] == ["Deal won"]

    async def test_without_the_platforms_credential_nothing_is_done(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        verifier: JwksVerifier,
    ) -> None:
        project = await new_project(gateway, agency)
        impostor = GrpcAutomationPeers.of(
            settings_of(platform, credential="agencyos-service-credential-local-development-only"),
            verifier,
        )

        with pytest.raises(Unauthenticated):
            await create_task(impostor, agency, project["id"], "Forged")

        tasks = await get(gateway, agency, f"/v1/projects/{project['id']}/tasks")
        assert tasks["items"] == []
