"""work's CreateTask gRPC method: what `POST /v1/projects/{id}/tasks` does, for callers over
gRPC (the automation engine acting as a rule's author): the same permission, visibility and
checks, work.task.created published; and the automation depth the caller's context carries
(W3C baggage through `rpc.call`) is recorded on the events the call publishes."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry import context as otel_context

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.peers.work import WorkClient
from agencyos.common.tracing import with_automation_depth
from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller, new_project
from agencyos.testing.inprocess import Agency, Caller, InProcess

WorkEvents = Any


async def principal_of(in_process: InProcess, who: Caller) -> Principal:
    """`who` as work's own edge verifies them."""
    service = await in_process.service("work")
    return await service.ctx.verifier.verify(who.access_token)


@pytest.fixture
async def work_client(in_process: InProcess, work_grpc_target: str) -> WorkClient:
    return WorkClient(work_grpc_target, 10.0)


async def get_task(work: httpx.AsyncClient, who: Caller, task_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


def create_request(project_id: str, **fields: Any) -> work_pb2.CreateTaskRequest:
    return work_pb2.CreateTaskRequest(project_id=project_id, **{"title": "Follow up", **fields})


class TestCreateTaskRpc:
    async def test_a_manager_creates_an_assigned_task_with_a_due_date(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        tenant: Agency,
        work_events: WorkEvents,
    ) -> None:
        manager = tenant.caller("manager")
        member = tenant.caller("member")
        project = await new_project(work, tenant.owner, member)

        created = await stub.CreateTask(
            create_request(
                project["id"],
                title="  Call the client back  ",
                description="About the *invoice*",
                assignee_id=str(member.user_id),
                due_date="2026-12-24",
            ),
            metadata=as_caller(manager),
            timeout=10,
        )

        assert created.title == "Call the client back"
        assert created.project_id == project["id"]
        assert created.due_date == "2026-12-24"
        task = await get_task(work, manager, created.id)
        assert task["description"] == "About the *invoice*"
        assert task["created_by"] == str(manager.user_id)
        assert task["assignee_ids"] == [str(member.user_id)]
        events = await work_events(tenant.id, "work.task.created", task_id=created.id)
        assert len(events) == 1
        assert "automationdepth" not in events[0]

    async def test_a_member_may_create_one_on_their_own_project(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await new_project(work, tenant.owner, member)

        created = await stub.CreateTask(
            create_request(project["id"]), metadata=as_caller(member), timeout=10
        )

        assert created.status == "todo"

    async def test_a_project_the_caller_cannot_see_is_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        tenant: Agency,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, tenant.owner)
        for stranger in (tenant.caller("member"), other_agency):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CreateTask(
                    create_request(project["id"]), metadata=as_caller(stranger), timeout=10
                )
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    @pytest.mark.parametrize("role", ["client", "viewer"])
    async def test_a_role_without_tasks_write_is_refused(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, tenant: Agency, role: str
    ) -> None:
        project = await new_project(work, tenant.owner)
        caller = (
            tenant.caller(role)
            if role != "viewer"
            else tenant.caller("member", permissions=["projects.read"])
        )

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTask(
                create_request(project["id"]), metadata=as_caller(caller), timeout=10
            )

        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_without_a_token_it_is_unauthenticated(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, tenant: Agency
    ) -> None:
        project = await new_project(work, tenant.owner)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTask(create_request(project["id"]), timeout=10)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"title": "   "}, "title"),
            ({"due_date": "24/12/2026"}, "due_date"),
            ({"assignee_id": "not-a-uuid"}, "assignee_ids"),
        ],
        ids=["blank-title", "bad-date", "bad-assignee"],
    )
    async def test_invalid_fields_are_named(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        tenant: Agency,
        fields: dict[str, str],
        named: str,
    ) -> None:
        project = await new_project(work, tenant.owner)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTask(
                create_request(project["id"], **fields),
                metadata=as_caller(tenant.owner),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert named in (caught.value.details() or "")

    async def test_an_assignee_outside_the_project_is_refused(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, tenant: Agency
    ) -> None:
        project = await new_project(work, tenant.owner)
        outsider = tenant.caller("member")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTask(
                create_request(project["id"], assignee_id=str(outsider.user_id)),
                metadata=as_caller(tenant.owner),
                timeout=10,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestTheTypedClient:
    async def test_create_task_answers_the_task_and_maps_refusals(
        self,
        work: httpx.AsyncClient,
        work_client: WorkClient,
        in_process: InProcess,
        tenant: Agency,
        other_agency: Caller,
    ) -> None:
        project = await new_project(work, tenant.owner)
        owner = await principal_of(in_process, tenant.owner)

        task = await work_client.create_task(
            owner,
            project_id=uuid.UUID(project["id"]),
            title="Send the report",
            due_date=date(2026, 12, 31),
        )

        assert task.title == "Send the report"
        assert task.due_date == date(2026, 12, 31)
        with pytest.raises(NotFound):
            await work_client.create_task(
                await principal_of(in_process, other_agency),
                project_id=uuid.UUID(project["id"]),
                title="Sneaky",
            )
        with pytest.raises(PermissionDenied):
            await work_client.create_task(
                await principal_of(in_process, tenant.caller("client")),
                project_id=uuid.UUID(project["id"]),
                title="Sneaky",
            )
        with pytest.raises(InvalidInput):
            await work_client.create_task(owner, project_id=uuid.UUID(project["id"]), title="")


class TestAutomationDepth:
    """The depth travels from the caller's context through `rpc.call` (W3C baggage) and the
    server's interceptor to the outbox: the event the call publishes says how deep it is."""

    async def test_an_event_published_by_a_call_at_depth_two_says_so(
        self,
        work: httpx.AsyncClient,
        work_client: WorkClient,
        in_process: InProcess,
        tenant: Agency,
        work_events: WorkEvents,
    ) -> None:
        project = await new_project(work, tenant.owner)
        owner = await principal_of(in_process, tenant.owner)

        token = otel_context.attach(with_automation_depth(2))
        try:
            task = await work_client.create_task(
                owner, project_id=uuid.UUID(project["id"]), title="Deep"
            )
        finally:
            otel_context.detach(token)

        events = await work_events(tenant.id, "work.task.created", task_id=str(task.id))
        assert [e.get("automationdepth") for e in events] == [2]

    async def test_an_event_published_by_a_call_outside_any_automation_has_none(
        self,
        work: httpx.AsyncClient,
        work_client: WorkClient,
        in_process: InProcess,
        tenant: Agency,
        work_events: WorkEvents,
    ) -> None:
        project = await new_project(work, tenant.owner)
        owner = await principal_of(in_process, tenant.owner)

        task = await work_client.create_task(
            owner, project_id=uuid.UUID(project["id"]), title="Shallow"
        )

        events = await work_events(tenant.id, "work.task.created", task_id=str(task.id))
        assert len(events) == 1
        assert "automationdepth" not in events[0]
