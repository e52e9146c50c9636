"""Milestones and deliverables through the real gateway and work's gRPC server, where requests
race: simultaneous completions complete a milestone once (one event on Kafka), simultaneous
client decisions leave exactly one. (The service's own rules are tested in-process, in
tests/inprocess/milestone and tests/inprocess/deliverable.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.factories import AgencySession, add_member, as_caller
from agencyos.testing.http import unverified_jwt
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform


async def create_project(
    gateway: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_milestone(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"name": f"Milestone {uuid.uuid4().hex[:6]}", **fields}
    response = await gateway.post(
        f"/v1/projects/{project_id}/milestones", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    milestone: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/milestones/{milestone['id']}"
    return milestone


async def create_deliverable(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deliverable {uuid.uuid4().hex[:6]}", **fields}
    response = await gateway.post(
        f"/v1/projects/{project_id}/deliverables", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    deliverable: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/deliverables/{deliverable['id']}"
    return deliverable


async def submit(
    gateway: httpx.AsyncClient, who: AgencySession, deliverable_id: str, **body: Any
) -> dict[str, Any]:
    response = await gateway.post(
        f"/v1/deliverables/{deliverable_id}/submit", json=body or None, headers=who.headers
    )
    assert response.status_code == 200, response.text
    deliverable: dict[str, Any] = response.json()
    return deliverable


async def history(
    gateway: httpx.AsyncClient, who: AgencySession, deliverable_id: str
) -> list[tuple[str, str | None, str]]:
    response = await gateway.get(f"/v1/deliverables/{deliverable_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(d["decision"], d["comment"], d["actor_id"]) for d in response.json()["items"]]


async def work_events(
    platform: Platform,
    who: AgencySession,
    event_type: str,
    subject_field: str,
    subject_id: str,
    count: int,
) -> list[dict[str, Any]]:
    """The first `count` events of `event_type` in `who`'s agency about `subject_id`."""
    topic = f"{platform.topic_prefix}work.events"

    def matching(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, tenantid=str(who.agency_id), type=event_type)
            if e["data"][subject_field] == subject_id
        ]

    records = await read_topic(
        platform.infra.kafka_bootstrap,
        topic,
        lambda rs: len(matching(rs)) >= count,
        timeout=60.0,
    )
    return matching(records)


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


def approve_rpc(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, deliverable_id: str, comment: str = ""
) -> Any:
    return stub.ApproveDeliverable(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


def changes_rpc(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, deliverable_id: str, comment: str = ""
) -> Any:
    return stub.RequestDeliverableChanges(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


async def client_project(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> tuple[AgencySession, dict[str, Any]]:
    """A client user of `agency` and a project of that user's client."""
    client_user = await add_member(platform, gateway, agency, "client")
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    project = await create_project(gateway, agency, client_id=client_id)
    assert project["client_id"] == client_id
    return client_user, project


class TestMilestones:
    async def test_two_simultaneous_completions_complete_it_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        project = await create_project(gateway, agency)
        milestone = await create_milestone(gateway, agency, project["id"], amount_cents=1)
        url = f"/v1/milestones/{milestone['id']}/complete"

        answers = await asyncio.gather(
            *(gateway.post(url, headers=agency.headers) for _ in range(3))
        )

        assert sorted(r.status_code for r in answers) == [200, 409, 409]
        [winner] = [r for r in answers if r.status_code == 200]
        [event] = await work_events(
            platform, agency, "work.milestone.completed", "milestone_id", milestone["id"], 1
        )
        assert event["data"]["completed_at"] == winner.json()["completed_at"]


class TestClientDecisionsRpc:
    async def test_simultaneous_decisions_leave_exactly_one(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user, project = await client_project(platform, gateway, agency)
        deliverable = await create_deliverable(gateway, agency, project["id"])
        await submit(gateway, agency, deliverable["id"])
        did = deliverable["id"]

        outcomes = await asyncio.gather(
            approve_rpc(stub, client_user, did),
            changes_rpc(stub, client_user, did, "Wait"),
            approve_rpc(stub, client_user, did),
            return_exceptions=True,
        )

        decided = [o for o in outcomes if isinstance(o, work_pb2.Deliverable)]
        failed = [o for o in outcomes if isinstance(o, grpc.aio.AioRpcError)]
        assert len(decided) == 1, outcomes
        assert [f.code() for f in failed] == [grpc.StatusCode.FAILED_PRECONDITION] * 2
        final = (await gateway.get(f"/v1/deliverables/{did}", headers=agency.headers)).json()
        assert final["status"] == decided[0].status
        assert [h[0] for h in await history(gateway, agency, did)] == [
            decided[0].status,
            "submitted",
        ]
