"""work's task gRPC methods: GetTasks (time and billing read tasks with it), and what the
client portal calls, ListClientVisibleTasks and CreateTaskFromFeedback (which publishes
work.feedback.received; a client user does not follow the task it made)."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller, get_board, new_project, new_task
from agencyos.testing.http import unverified_jwt
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def column_task_ids(
    work: httpx.AsyncClient, who: Caller, project_id: str, name: str
) -> list[str]:
    board = await get_board(work, who, project_id)
    column = next(c for c in board["columns"] if c["name"] == name)
    return [t["id"] for t in column["tasks"]]


async def get_task(work: httpx.AsyncClient, who: Caller, task_id: str) -> dict[str, Any]:
    response = await work.get(f"/v1/tasks/{task_id}", headers=who.headers)
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    return task


async def followers_of(work: httpx.AsyncClient, who: Caller, task_id: str) -> list[str]:
    response = await work.get(f"/v1/tasks/{task_id}/followers", headers=who.headers)
    assert response.status_code == 200, response.text
    return [f["user_id"] for f in response.json()["items"]]


def client_of(who: Caller) -> str:
    _, claims = unverified_jwt(who.access_token)
    return str(claims["cid"])


def new_client_user(in_process: InProcess, tenant: Agency) -> Caller:
    """A client user of the agency, bound to a client declared on CRM's stand-in (so a project
    may name that client)."""
    return tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))


async def get_tasks(stub: WorkServiceStub, who: Caller, *task_ids: str) -> list[work_pb2.Task]:
    answer = await stub.GetTasks(
        work_pb2.GetTasksRequest(task_ids=list(task_ids)), metadata=as_caller(who), timeout=10
    )
    return list(answer.tasks)


class TestClientVisibleTasksRpc:
    async def test_a_client_user_sees_its_projects_client_visible_tasks_in_board_order(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))
        shown = await new_task(work, agency, project["id"], visible_to_client=True)
        await new_task(work, agency, project["id"], title="Internal")
        done = await new_task(work, agency, project["id"], visible_to_client=True, status="done")

        answer = await stub.ListClientVisibleTasks(
            work_pb2.ListClientVisibleTasksRequest(project_id=project["id"]),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert [t.id for t in answer.tasks] == [shown["id"], done["id"]]
        assert all(t.visible_to_client for t in answer.tasks)
        assert answer.tasks[1].status == "done"
        assert answer.tasks[1].completed_at.endswith("Z")

    async def test_a_client_user_of_another_client_gets_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        ours = new_client_user(in_process, tenant)
        theirs = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(ours))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListClientVisibleTasks(
                work_pb2.ListClientVisibleTasksRequest(project_id=project["id"]),
                metadata=as_caller(theirs),
                timeout=10,
            )

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_agency_staff_see_them_by_project_visibility(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
        tenant: Agency,
    ) -> None:
        outsider = tenant.caller("member")
        project = await new_project(work, agency)
        shown = await new_task(work, agency, project["id"], visible_to_client=True)
        request = work_pb2.ListClientVisibleTasksRequest(project_id=project["id"])

        answer = await stub.ListClientVisibleTasks(request, metadata=as_caller(agency), timeout=10)
        for stranger in (outsider, other_agency):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.ListClientVisibleTasks(request, metadata=as_caller(stranger), timeout=10)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        assert [t.id for t in answer.tasks] == [shown["id"]]


class TestCreateTaskFromFeedbackRpc:
    async def test_a_client_user_adds_a_visible_task_to_the_first_todo_column(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))
        existing = await new_task(work, agency, project["id"])

        created = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=project["id"],
                title="  The logo is too small  ",
                description="On the *home* page",
            ),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert created.title == "The logo is too small"
        assert created.status == "todo"
        assert created.visible_to_client is True
        task = await get_task(work, agency, created.id)
        assert task["description"] == "On the *home* page"
        assert task["created_by"] == str(client_user.user_id)
        assert await column_task_ids(work, agency, project["id"], "To do") == [
            existing["id"],
            created.id,
        ]

    async def test_staff_with_tasks_write_may_create_an_internal_one(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
    ) -> None:
        project = await new_project(work, agency)

        created = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=project["id"], title="Follow up", visible_to_client=False
            ),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert created.visible_to_client is False
        assert created.project_id == project["id"]

    async def test_a_client_user_of_another_client_and_other_agencies_get_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        ours = new_client_user(in_process, tenant)
        theirs = new_client_user(in_process, tenant)
        outsider = tenant.caller("member")
        project = await new_project(work, agency, client_id=client_of(ours))
        request = work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Hi")

        for stranger in (theirs, outsider, other_agency):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.CreateTaskFromFeedback(request, metadata=as_caller(stranger), timeout=10)
            assert caught.value.code() == grpc.StatusCode.NOT_FOUND

        listing = await work.get(f"/v1/projects/{project['id']}/tasks", headers=agency.headers)
        assert listing.json()["total"] == 0

    async def test_an_empty_title_is_invalid(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))

        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CreateTaskFromFeedback(
                work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="   "),
                metadata=as_caller(client_user),
                timeout=10,
            )

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestGetTasks:
    async def test_a_manager_gets_any_task_of_the_agency_with_project_and_title_in_order(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        first = await new_project(work, agency)
        second = await new_project(work, agency)
        a = await new_task(work, agency, first["id"], title="Wireframes")
        b = await new_task(work, agency, second["id"], title="Copy")

        tasks = await get_tasks(stub, manager, b["id"], a["id"], b["id"])

        assert [(t.id, t.project_id, t.title) for t in tasks] == [
            (b["id"], second["id"], "Copy"),
            (a["id"], first["id"], "Wireframes"),
        ]

    async def test_unknown_ids_and_other_agencies_tasks_are_left_out(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        ours = await new_task(work, agency, (await new_project(work, agency))["id"])
        theirs = await new_task(work, other_agency, (await new_project(work, other_agency))["id"])

        tasks = await get_tasks(stub, agency, ours["id"], theirs["id"], str(uuid.uuid4()))

        assert [t.id for t in tasks] == [ours["id"]]
        assert await get_tasks(stub, other_agency, ours["id"]) == []

    async def test_a_member_gets_only_tasks_of_projects_they_belong_to(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        theirs = await new_project(work, agency, member)
        not_theirs = await new_project(work, agency)
        seen = await new_task(work, agency, theirs["id"])
        hidden = await new_task(work, agency, not_theirs["id"])

        tasks = await get_tasks(stub, member, seen["id"], hidden["id"])

        assert [t.id for t in tasks] == [seen["id"]]

    async def test_a_client_user_gets_only_client_visible_tasks_of_its_own_clients_projects(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        other_client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))
        shown = await new_task(work, agency, project["id"], visible_to_client=True)
        internal = await new_task(work, agency, project["id"])

        tasks = await get_tasks(stub, client_user, shown["id"], internal["id"])

        assert [t.id for t in tasks] == [shown["id"]]
        assert await get_tasks(stub, other_client_user, shown["id"]) == []

    async def test_more_than_500_ids_or_a_malformed_id_is_invalid(
        self, stub: WorkServiceStub, agency: Caller
    ) -> None:
        for ids in ([str(uuid.uuid4()) for _ in range(501)], ["not-a-uuid"]):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await get_tasks(stub, agency, *ids)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_call_without_a_token_is_unauthenticated(self, stub: WorkServiceStub) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetTasks(work_pb2.GetTasksRequest(task_ids=[str(uuid.uuid4())]), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


class TestFeedbackReceivedEvent:
    async def test_a_client_users_feedback_publishes_it_with_the_project_client_and_author(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))

        created = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=project["id"],
                title="Logo",
                description="The logo is\n\ntoo small on *mobile*",
            ),
            metadata=as_caller(client_user),
            timeout=10,
        )

        events = await (await in_process.service("work")).outbox(
            tenant.id, "work.feedback.received"
        )
        assert [(e["subject"], e["data"]) for e in events] == [
            (
                f"tasks/{created.id}",
                {
                    "task_id": created.id,
                    "project_id": project["id"],
                    "client_id": client_of(client_user),
                    "author_id": str(client_user.user_id),
                    "excerpt": "The logo is too small on *mobile*",
                },
            )
        ]

    async def test_without_a_description_the_excerpt_is_the_title(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        project = await new_project(work, agency)

        await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Call back"),
            metadata=as_caller(agency),
            timeout=10,
        )

        [event] = await (await in_process.service("work")).outbox(
            tenant.id, "work.feedback.received"
        )
        assert event["data"]["excerpt"] == "Call back"
        assert event["data"]["client_id"] is None
        assert event["data"]["author_id"] == str(agency.user_id)

    async def test_refused_feedback_publishes_nothing(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        ours = new_client_user(in_process, tenant)
        theirs = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(ours))

        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CreateTaskFromFeedback(
                work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Hi"),
                metadata=as_caller(theirs),
                timeout=10,
            )

        assert (
            await (await in_process.service("work")).outbox(tenant.id, "work.feedback.received")
            == []
        )

    async def test_the_client_user_does_not_follow_the_task_and_staff_do(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = new_client_user(in_process, tenant)
        project = await new_project(work, agency, client_id=client_of(client_user))

        from_client = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Logo"),
            metadata=as_caller(client_user),
            timeout=10,
        )
        from_staff = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(project_id=project["id"], title="Passed on"),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert await followers_of(work, agency, from_client.id) == []
        assert await followers_of(work, agency, from_staff.id) == [str(agency.user_id)]
