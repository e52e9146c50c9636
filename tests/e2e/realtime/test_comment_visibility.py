"""Comment visibility through the whole platform: a manager's internal comment and
client-visible comment (REST, through the gateway) and a client user's own comment (work's
portal gRPC, as the portal calls it), then work's real events over Kafka into notification.
The client user reads back only the client-visible ones (portal gRPC, the feed through the
gateway) and is told and emailed nothing of the internal one; the user of another client sees
none of them; the team sees all, and the assigned manager hears of the client's comment."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, as_caller, new_project, new_task
from agencyos.testing.inbox import about, join, notices, wait_for_notice
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def work(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


async def comment_events(
    gateway: httpx.AsyncClient, who: AgencySession, task_id: str
) -> list[dict[str, Any]]:
    response = await gateway.get(
        "/v1/events", params={"types": "work.comment.*", "limit": 500}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    return [i for i in response.json()["items"] if i["data"].get("task_id") == task_id]


async def post_comment(
    gateway: httpx.AsyncClient, who: AgencySession, task_id: str, **body: Any
) -> dict[str, Any]:
    response = await gateway.post(f"/v1/tasks/{task_id}/comments", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_an_internal_comment_reaches_the_team_and_never_the_client(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    work: work_pb2_grpc.WorkServiceStub,
) -> None:
    ours = await create_client(gateway, agency, company_name="Acme Corp")
    theirs = await create_client(gateway, agency, company_name="Globex")
    manager = await join(gateway, agency, "manager", name="Mona Manager")
    client = await join(gateway, agency, "client", name="Cleo Client", client_id=ours["id"])
    other = await join(gateway, agency, "client", name="Olga Other", client_id=theirs["id"])
    project = await new_project(gateway, agency, manager, client_id=ours["id"])
    task = await new_task(
        gateway,
        manager,
        project["id"],
        visible_to_client=True,
        assignee_ids=[str(manager.user_id)],
    )
    secret = f"internal-{uuid.uuid4().hex[:8]}"

    internal = await post_comment(gateway, manager, task["id"], body=f"{secret}: they are late")
    shared = await post_comment(
        gateway, manager, task["id"], body="Draft is up", visibility="client"
    )
    from_client = await work.AddClientComment(
        work_pb2.AddClientCommentRequest(task_id=task["id"], body="Thanks, looks good"),
        metadata=as_caller(client),
        timeout=10,
    )

    # work's answer to the portal: the client-visible ones alone
    listed = await work.ListClientTaskComments(
        work_pb2.ListClientTaskCommentsRequest(task_id=task["id"]),
        metadata=as_caller(client),
        timeout=10,
    )
    assert [c.id for c in listed.comments] == [shared["id"], from_client.id]
    assert internal["visibility"] == "internal"

    # the team hears of the client's comment (the manager is assigned): by then notification
    # has handled the earlier comments too
    await wait_for_notice(gateway, manager, "task.commented", about("comment_id", from_client.id))

    async def all_three_recorded() -> list[dict[str, Any]] | None:
        seen = await comment_events(gateway, agency, task["id"])
        created = [i for i in seen if i["type"] == "work.comment.created"]
        return seen if len(created) == 3 else None

    team = await wait_for(all_three_recorded, timeout=60, interval=0.3)
    assert isinstance(team, list)
    assert {i["data"]["visibility"] for i in team} == {"internal", "client"}

    theirs_seen = await comment_events(gateway, client, task["id"])
    assert [i["data"]["comment_id"] for i in theirs_seen] == [shared["id"], from_client.id]
    assert {i["type"] for i in theirs_seen} == {"work.comment.created"}
    assert all(
        set(i["data"]) == {"comment_id", "task_id", "project_id", "task_title", "excerpt"}
        for i in theirs_seen
    )
    every = await gateway.get("/v1/events", params={"limit": 500}, headers=client.headers)
    assert secret not in every.text
    assert await comment_events(gateway, other, task["id"]) == []

    # nothing told nor emailed to the client's user about any comment
    client_notices = await notices(gateway, client)
    assert [n for n in client_notices if n["kind"] in ("task.commented", "comment.mentioned")] == []
    assert secret not in str(client_notices)
    async with Mailpit(platform.mailpit_url) as mailpit:
        for message in await mailpit.messages_to(client.email):
            assert secret not in message.text
            assert secret not in message.html
