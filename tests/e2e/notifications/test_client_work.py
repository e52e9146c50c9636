"""Client work's notices through the whole platform: a deliverable submitted reaches the
client's users (in the app and by email), their answers through work's gRPC (as the portal
calls it) reach the project's managers, and a won deal's project is told to its manager.
Each notice is read back through the gateway and its link followed with the reader's token."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.deals import create_client, create_deal, moved
from agencyos.testing.factories import AgencySession, as_caller, new_project
from agencyos.testing.inbox import (
    TOLD_WITHIN_SECONDS,
    about,
    agency_name,
    emailed,
    follow,
    heard_only_a_later_notice,
    join,
    link_in,
    notices,
    wait_for_notice,
)
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def work(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


@dataclass
class ClientWork:
    """A project of a client with a manager on it; a user of that client, a user of another
    client (with a project of their own), and a member not on the project."""

    owner: AgencySession
    manager: AgencySession
    client: AgencySession
    other_client: AgencySession
    outsider: AgencySession
    project: dict[str, Any]
    other_project: dict[str, Any]


async def client_work(gateway: httpx.AsyncClient, owner: AgencySession) -> ClientWork:
    ours = await create_client(gateway, owner, company_name="Acme Corp")
    theirs = await create_client(gateway, owner, company_name="Globex")
    manager = await join(gateway, owner, "manager", name="Mona Manager")
    client = await join(gateway, owner, "client", name="Cleo Client", client_id=ours["id"])
    other = await join(gateway, owner, "client", name="Olga Other", client_id=theirs["id"])
    outsider = await join(gateway, owner, "member", name="Otto Outsider")
    project = await new_project(
        gateway, owner, manager, name=f"Acme site {uuid.uuid4().hex[:4]}", client_id=ours["id"]
    )
    other_project = await new_project(gateway, owner, manager, client_id=theirs["id"])
    return ClientWork(owner, manager, client, other, outsider, project, other_project)


async def submitted(
    gateway: httpx.AsyncClient,
    who: AgencySession,
    project: dict[str, Any],
    title: str,
    comment: str | None = None,
) -> dict[str, Any]:
    created = await gateway.post(
        f"/v1/projects/{project['id']}/deliverables", json={"title": title}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    deliverable: dict[str, Any] = created.json()
    response = await gateway.post(
        f"/v1/deliverables/{deliverable['id']}/submit",
        json={"comment": comment} if comment else None,
        headers=who.headers,
    )
    assert response.status_code == 200, response.text
    return deliverable


class TestDeliverableSubmitted:
    async def test_the_clients_user_reads_it_and_its_email_and_no_other_client_does(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        cast = await client_work(gateway, agency)
        brand = await agency_name(gateway, agency)
        title = f"Homepage mockups {uuid.uuid4().hex[:4]}"

        deliverable = await submitted(
            gateway, cast.manager, cast.project, title, "Three directions, pick one."
        )

        note = await wait_for_notice(
            gateway,
            cast.client,
            "deliverable.submitted",
            about("deliverable_id", deliverable["id"]),
        )
        assert note["title"] == f"\u201c{title}\u201d awaits your approval"
        assert note["body"] == "Three directions, pick one."
        message = await emailed(platform, cast.client.email, f"{title} awaits your approval")
        assert message.from_name == brand
        assert "Hello Cleo Client," in message.text
        assert (
            f'{brand} submitted "{title}" for {cast.project["name"]} and awaits your approval.'
            in message.text
        )
        assert link_in(message, platform, note["link"]) == f"/v1/deliverables/{deliverable['id']}"
        # the other client's user hears only of their own project's deliverable, told after
        sentinel = await submitted(gateway, cast.manager, cast.other_project, "Globex logo")
        await wait_for_notice(
            gateway,
            cast.other_client,
            "deliverable.submitted",
            about("deliverable_id", sentinel["id"]),
        )
        assert len(await notices(gateway, cast.other_client)) == 1
        assert await notices(gateway, cast.manager, "deliverable.submitted") == []

    async def test_the_emailed_link_opens_the_deliverable_for_the_clients_user(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        cast = await client_work(gateway, agency)
        title = f"Pricing page {uuid.uuid4().hex[:4]}"

        deliverable = await submitted(gateway, cast.manager, cast.project, title)

        message = await emailed(platform, cast.client.email, f"{title} awaits your approval")
        link = link_in(message, platform, f"/v1/deliverables/{deliverable['id']}")
        opened = await follow(gateway, link, cast.client)
        assert (opened["id"], opened["status"]) == (deliverable["id"], "submitted")


class TestClientAnswers:
    async def test_an_approval_and_a_change_request_reach_the_projects_managers(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        work: work_pb2_grpc.WorkServiceStub,
    ) -> None:
        cast = await client_work(gateway, agency)
        approved = await submitted(gateway, cast.manager, cast.project, "Logo, final")
        sent_back = await submitted(gateway, cast.manager, cast.project, "Brochure, draft")
        await wait_for_notice(
            gateway, cast.client, "deliverable.submitted", about("deliverable_id", sent_back["id"])
        )

        await work.ApproveDeliverable(
            work_pb2.DeliverableDecisionRequest(deliverable_id=approved["id"], comment="Love it"),
            metadata=as_caller(cast.client),
            timeout=TOLD_WITHIN_SECONDS,
        )
        await work.RequestDeliverableChanges(
            work_pb2.DeliverableDecisionRequest(
                deliverable_id=sent_back["id"], comment="Bigger headline, please"
            ),
            metadata=as_caller(cast.client),
            timeout=TOLD_WITHIN_SECONDS,
        )

        for who in (cast.manager, agency):  # the owner made the project: a member managing it
            yes = await wait_for_notice(
                gateway, who, "deliverable.approved", about("deliverable_id", approved["id"])
            )
            assert yes["title"] == "Cleo Client approved \u201cLogo, final\u201d"
            assert yes["body"] == "Love it"
            assert (await follow(gateway, yes["link"], who))["status"] == "approved"
            no = await wait_for_notice(
                gateway,
                who,
                "deliverable.changes_requested",
                about("deliverable_id", sent_back["id"]),
            )
            assert no["title"] == "Cleo Client asked for changes to \u201cBrochure, draft\u201d"
            assert no["body"] == "Bigger headline, please"
            assert (await follow(gateway, no["link"], who))["status"] == "changes_requested"
        await heard_only_a_later_notice(gateway, agency, cast.outsider)
        assert await notices(gateway, cast.client, "deliverable.approved") == []

    async def test_feedback_becomes_a_task_the_projects_managers_hear_of(
        self,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        work: work_pb2_grpc.WorkServiceStub,
    ) -> None:
        cast = await client_work(gateway, agency)

        task = await work.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=cast.project["id"],
                title="The footer is cut off",
                description="On my phone the footer is cut off below the address.",
            ),
            metadata=as_caller(cast.client),
            timeout=TOLD_WITHIN_SECONDS,
        )

        note = await wait_for_notice(
            gateway, cast.manager, "feedback.received", about("task_id", task.id)
        )
        assert note["title"] == f"Cleo Client sent feedback on {cast.project['name']}"
        assert "footer is cut off" in note["body"]
        opened = await follow(gateway, note["link"], cast.manager)
        assert (opened["id"], opened["title"]) == (task.id, "The footer is cut off")
        await heard_only_a_later_notice(gateway, agency, cast.outsider)
        assert await notices(gateway, cast.client, "feedback.received") == []


class TestProjectFromWonDeal:
    async def test_the_manager_of_the_project_the_saga_makes_hears_of_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Mona Manager")
        outsider = await join(gateway, agency, "member", name="Otto Outsider")
        client = await create_client(gateway, agency, company_name="Initech")
        title = f"Initech rebrand {uuid.uuid4().hex[:4]}"
        deal = await create_deal(
            gateway, agency, client, title=title, assigned_to=str(manager.user_id)
        )

        await moved(gateway, agency, deal["id"], stage="won")

        note = await wait_for_notice(
            gateway, manager, "project.created_from_deal", about("deal_id", deal["id"])
        )
        assert note["title"] == f"Project \u201c{title}\u201d was started from a won deal"
        project = await follow(gateway, note["link"], manager)
        assert (project["deal_id"], project["name"]) == (deal["id"], title)

        async def linked() -> bool:
            found = await follow(gateway, f"/v1/deals/{deal['id']}", agency)
            return found["project_id"] == project["id"]

        await wait_for(linked, timeout=TOLD_WITHIN_SECONDS)
        await heard_only_a_later_notice(gateway, agency, outsider)
        assert await notices(gateway, agency, "project.created_from_deal") == []

    async def test_a_member_the_won_deal_was_assigned_to_hears_of_their_project(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await join(gateway, agency, "member", name="Ada Lovelace")
        client = await create_client(gateway, agency, company_name="Hooli")
        title = f"Hooli app {uuid.uuid4().hex[:4]}"
        deal = await create_deal(
            gateway, agency, client, title=title, assigned_to=str(member.user_id)
        )

        await moved(gateway, agency, deal["id"], stage="won")

        # nobody on the project manages it, and the one who won the deal is not told of it
        note = await wait_for_notice(
            gateway, member, "project.created_from_deal", about("deal_id", deal["id"])
        )
        assert note["title"] == f"Project \u201c{title}\u201d was started from a won deal"
        project = await follow(gateway, note["link"], member)
        assert project["deal_id"] == deal["id"]
