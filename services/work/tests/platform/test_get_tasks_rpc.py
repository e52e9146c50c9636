"""work's GetTasks gRPC method (time checks a task belongs to a project with it, billing reads
task titles): tasks by id, as far as the caller may see them, in the order asked."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc
from agencyos.testing.factories import AgencySession, add_member, as_caller, new_project, new_task
from agencyos.testing.http import unverified_jwt
from agencyos.testing.platform import Platform


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[work_pb2_grpc.WorkServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("work")) as channel:
        yield work_pb2_grpc.WorkServiceStub(channel)


async def get_tasks(
    stub: work_pb2_grpc.WorkServiceStub, who: AgencySession, *task_ids: str
) -> list[work_pb2.Task]:
    answer = await stub.GetTasks(
        work_pb2.GetTasksRequest(task_ids=list(task_ids)), metadata=as_caller(who), timeout=10
    )
    return list(answer.tasks)


class TestGetTasks:
    async def test_a_manager_gets_any_task_of_the_agency_with_project_and_title_in_order(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        first = await new_project(gateway, agency)
        second = await new_project(gateway, agency)
        a = await new_task(gateway, agency, first["id"], title="Wireframes")
        b = await new_task(gateway, agency, second["id"], title="Copy")

        tasks = await get_tasks(stub, manager, b["id"], a["id"], b["id"])

        assert [(t.id, t.project_id, t.title) for t in tasks] == [
            (b["id"], second["id"], "Copy"),
            (a["id"], first["id"], "Wireframes"),
        ]

    async def test_unknown_ids_and_other_agencies_tasks_are_left_out(
        self,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        ours = await new_task(gateway, agency, (await new_project(gateway, agency))["id"])
        theirs = await new_task(
            gateway, other_agency, (await new_project(gateway, other_agency))["id"]
        )

        tasks = await get_tasks(stub, agency, ours["id"], theirs["id"], str(uuid.uuid4()))

        assert [t.id for t in tasks] == [ours["id"]]
        assert await get_tasks(stub, other_agency, ours["id"]) == []

    async def test_a_member_gets_only_tasks_of_projects_they_belong_to(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        theirs = await new_project(gateway, agency, member)
        not_theirs = await new_project(gateway, agency)
        seen = await new_task(gateway, agency, theirs["id"])
        hidden = await new_task(gateway, agency, not_theirs["id"])

        tasks = await get_tasks(stub, member, seen["id"], hidden["id"])

        assert [t.id for t in tasks] == [seen["id"]]

    async def test_a_client_user_gets_only_client_visible_tasks_of_its_own_clients_projects(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: work_pb2_grpc.WorkServiceStub,
        agency: AgencySession,
    ) -> None:
        client_user = await add_member(platform, gateway, agency, "client")
        other_client_user = await add_member(platform, gateway, agency, "client")
        _, claims = unverified_jwt(client_user.access_token)
        project = await new_project(gateway, agency, client_id=claims["cid"])
        shown = await new_task(gateway, agency, project["id"], visible_to_client=True)
        internal = await new_task(gateway, agency, project["id"])

        tasks = await get_tasks(stub, client_user, shown["id"], internal["id"])

        assert [t.id for t in tasks] == [shown["id"]]
        assert await get_tasks(stub, other_client_user, shown["id"]) == []

    async def test_more_than_500_ids_or_a_malformed_id_is_invalid(
        self, stub: work_pb2_grpc.WorkServiceStub, agency: AgencySession
    ) -> None:
        for ids in ([str(uuid.uuid4()) for _ in range(501)], ["not-a-uuid"]):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_tasks(stub, agency, *ids)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_call_without_a_token_is_unauthenticated(
        self, stub: work_pb2_grpc.WorkServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTasks(work_pb2.GetTasksRequest(task_ids=[str(uuid.uuid4())]), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
