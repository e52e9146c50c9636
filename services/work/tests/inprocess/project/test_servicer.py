"""work's project gRPC methods, as other services call them with a caller's token:
GetProjects, ListClientProjects and CheckProjectMembership."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/projects/{response.json()['id']}"
    project: dict[str, Any] = response.json()
    return project


async def create_template(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Template {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/project-templates", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    template: dict[str, Any] = response.json()
    return template


WEBSITE_TEMPLATE: dict[str, Any] = {
    "billing_type": "fixed",
    "columns": [
        {"name": "Backlog", "color": "#111111", "status": "todo"},
        {"name": "Doing", "color": "#222222", "status": "in_progress"},
        {"name": "Shipped", "color": "#333333", "status": "done"},
    ],
    "tasks": [
        {
            "title": "Kick-off",
            "priority": "high",
            "due_offset_days": 3,
            "estimate_hours": 2.5,
            "labels": ["discovery"],
            "milestone": "Discovery",
            "visible_to_client": True,
        },
        {"title": "Wireframes", "status": "in_progress", "due_offset_days": 10},
        {"title": "Old brief", "status": "done"},
        {"title": "Design", "milestone": "Design"},
    ],
    "milestones": [
        {"name": "Discovery", "due_offset_days": 7, "amount_cents": 250_000},
        {"name": "Design", "due_offset_days": 21},
    ],
}


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


class TestGetProjectsRpc:
    async def test_answers_the_callers_projects_in_request_order_and_leaves_out_the_rest(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        template = await create_template(work, agency, **WEBSITE_TEMPLATE)
        first = await create_project(
            work,
            agency,
            template_id=template["id"],
            hourly_rate_cents=12_000,
            start_date="2026-12-01",
        )
        second = await create_project(work, agency)
        theirs = await create_project(work, other_agency)

        response = await stub.GetProjects(
            work_pb2.GetProjectsRequest(
                project_ids=[second["id"], theirs["id"], str(uuid.uuid4()), first["id"]]
            ),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert [p.id for p in response.projects] == [second["id"], first["id"]]
        got = response.projects[1]
        assert (got.name, got.status, got.billing_type) == (first["name"], "planning", "fixed")
        assert (got.hourly_rate_cents, got.currency, got.budget_cents) == (12_000, "USD", 0)
        assert (got.start_date, got.deadline, got.client_id, got.deal_id) == (
            "2026-12-01",
            "",
            "",
            "",
        )
        assert got.progress == 25
        assert list(got.member_ids) == [str(agency.user_id)]

    async def test_a_member_gets_only_their_projects(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        theirs = await create_project(work, agency, member_ids=[str(member.user_id)])
        hidden = await create_project(work, agency)

        response = await stub.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[theirs["id"], hidden["id"]]),
            metadata=as_caller(member),
            timeout=10,
        )

        assert [p.id for p in response.projects] == [theirs["id"]]

    async def test_malformed_or_too_many_ids_are_invalid_arguments(
        self, stub: WorkServiceStub, agency: Caller
    ) -> None:
        malformed = await rpc_error(
            stub.GetProjects(
                work_pb2.GetProjectsRequest(project_ids=["nope"]),
                metadata=as_caller(agency),
                timeout=10,
            )
        )
        too_many = await rpc_error(
            stub.GetProjects(
                work_pb2.GetProjectsRequest(project_ids=[str(uuid.uuid4()) for _ in range(501)]),
                metadata=as_caller(agency),
                timeout=10,
            )
        )
        anonymous = await rpc_error(
            stub.GetProjects(work_pb2.GetProjectsRequest(project_ids=[]), timeout=10)
        )

        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert too_many.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert anonymous.code() == grpc.StatusCode.UNAUTHENTICATED


class TestListClientProjectsRpc:
    async def test_a_client_user_lists_its_own_clients_projects_with_progress(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_id = str(in_process.standins.crm.add_client(tenant.id))
        client_user = tenant.caller("client", client_id=uuid.UUID(client_id))
        template = await create_template(work, agency, **WEBSITE_TEMPLATE)
        ours = await create_project(work, agency, client_id=client_id, template_id=template["id"])
        await create_project(
            work, agency, client_id=str(in_process.standins.crm.add_client(tenant.id))
        )

        response = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(client_user),
            timeout=10,
        )

        assert [(p.id, p.client_id, p.progress) for p in response.projects] == [
            (ours["id"], client_id, 25)
        ]

    async def test_a_client_user_may_not_ask_for_another_client(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user = tenant.caller(
            "client", client_id=in_process.standins.crm.add_client(tenant.id)
        )
        other_client = str(in_process.standins.crm.add_client(tenant.id))
        await create_project(work, agency, client_id=other_client)

        error = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id=other_client),
                metadata=as_caller(client_user),
                timeout=10,
            )
        )

        assert error.code() == grpc.StatusCode.PERMISSION_DENIED

    async def test_staff_need_projects_read_all_and_see_only_their_agency(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        member = tenant.caller("member")
        manager = tenant.caller("manager")
        client_id = str(in_process.standins.crm.add_client(tenant.id))
        project = await create_project(
            work, agency, client_id=client_id, member_ids=[str(member.user_id)]
        )

        denied = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id=client_id),
                metadata=as_caller(member),
                timeout=10,
            )
        )
        managed = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(manager),
            timeout=10,
        )
        elsewhere = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(other_agency),
            timeout=10,
        )
        malformed = await rpc_error(
            stub.ListClientProjects(
                work_pb2.ListClientProjectsRequest(client_id="x"),
                metadata=as_caller(manager),
                timeout=10,
            )
        )

        assert denied.code() == grpc.StatusCode.PERMISSION_DENIED
        assert [p.id for p in managed.projects] == [project["id"]]
        assert list(elsewhere.projects) == []
        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT


class TestCheckProjectMembershipRpc:
    async def test_membership_and_whether_the_project_takes_time(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = await create_project(work, agency, member_ids=[str(member.user_id)])
        outsider = await create_project(work, agency)

        async def check(who: Caller, project_id: str, user_id: uuid.UUID) -> Any:
            return await stub.CheckProjectMembership(
                work_pb2.CheckProjectMembershipRequest(project_id=project_id, user_id=str(user_id)),
                metadata=as_caller(who),
                timeout=10,
            )

        mine = await check(member, project["id"], member.user_id)
        not_mine = await check(member, outsider["id"], member.user_id)
        asked_by_owner = await check(agency, outsider["id"], member.user_id)
        for status, accepts in (
            ("active", True),
            ("on_hold", False),
            ("completed", False),
            ("archived", False),
        ):
            response = await work.patch(
                f"/v1/projects/{project['id']}", json={"status": status}, headers=agency.headers
            )
            assert response.status_code == 200, response.text
            answer = await check(member, project["id"], member.user_id)
            assert (answer.is_member, answer.accepts_time, answer.status) == (
                True,
                accepts,
                status,
            )

        assert (mine.is_member, mine.accepts_time, mine.status) == (True, True, "planning")
        assert (not_mine.is_member, not_mine.accepts_time) == (False, True)
        assert asked_by_owner.is_member is False

    async def test_unknown_projects_other_agencies_and_other_users_are_refused(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
        tenant: Agency,
    ) -> None:
        member = tenant.caller("member")
        ours = await create_project(work, agency, member_ids=[str(member.user_id)])
        theirs = await create_project(work, other_agency)

        async def check(who: Caller, project_id: str, user_id: str) -> grpc.StatusCode:
            error = await rpc_error(
                stub.CheckProjectMembership(
                    work_pb2.CheckProjectMembershipRequest(project_id=project_id, user_id=user_id),
                    metadata=as_caller(who),
                    timeout=10,
                )
            )
            return error.code()

        assert await check(agency, str(uuid.uuid4()), str(agency.user_id)) == (
            grpc.StatusCode.NOT_FOUND
        )
        assert await check(agency, theirs["id"], str(other_agency.user_id)) == (
            grpc.StatusCode.NOT_FOUND
        )
        assert await check(agency, "nope", str(agency.user_id)) == (
            grpc.StatusCode.INVALID_ARGUMENT
        )
        assert await check(member, ours["id"], str(agency.user_id)) == (
            grpc.StatusCode.PERMISSION_DENIED
        )


async def add_milestone(
    work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any
) -> dict[str, Any]:
    response = await work.post(
        f"/v1/projects/{project_id}/milestones", json=fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    milestone: dict[str, Any] = response.json()
    return milestone


async def complete_milestone(work: httpx.AsyncClient, who: Caller, milestone_id: str) -> None:
    response = await work.post(f"/v1/milestones/{milestone_id}/complete", headers=who.headers)
    assert response.status_code == 200, response.text


class TestMilestonesInProjectAnswers:
    """The portal's project list names each project's next open milestone; its project view
    asks GetProjects for every milestone. Never what a milestone bills."""

    async def test_the_client_list_names_the_open_milestone_due_first(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_id = str(in_process.standins.crm.add_client(tenant.id))
        client_user = tenant.caller("client", client_id=uuid.UUID(client_id))
        planned = await create_project(work, agency, client_id=client_id)
        bare = await create_project(work, agency, client_id=client_id)
        pid = planned["id"]
        done = await add_milestone(work, agency, pid, name="Kick-off", due_date="2026-01-05")
        await add_milestone(work, agency, pid, name="Someday")
        await add_milestone(work, agency, pid, name="Launch", due_date="2027-03-01")
        await add_milestone(
            work, agency, pid, name="Design", due_date="2027-01-15", amount_cents=500_000
        )
        await complete_milestone(work, agency, done["id"])

        response = await stub.ListClientProjects(
            work_pb2.ListClientProjectsRequest(client_id=client_id),
            metadata=as_caller(client_user),
            timeout=10,
        )

        by_id = {p.id: p for p in response.projects}
        upcoming = by_id[pid].next_milestone
        assert (upcoming.name, upcoming.due_date, upcoming.status) == (
            "Design",
            "2027-01-15",
            "open",
        )
        assert not by_id[bare["id"]].HasField("next_milestone")
        # The list names the next one only.
        assert list(by_id[pid].milestones) == []

    async def test_get_projects_answers_every_milestone_when_asked(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_id = str(in_process.standins.crm.add_client(tenant.id))
        client_user = tenant.caller("client", client_id=uuid.UUID(client_id))
        project = await create_project(work, agency, client_id=client_id)
        pid = project["id"]
        first = await add_milestone(
            work, agency, pid, name="Discovery", due_date="2026-11-01", amount_cents=250_000
        )
        await add_milestone(work, agency, pid, name="Launch")
        await add_milestone(work, agency, pid, name="Design", due_date="2027-02-01")
        await complete_milestone(work, agency, first["id"])

        plain = await stub.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[pid]),
            metadata=as_caller(client_user),
            timeout=10,
        )
        asked = await stub.GetProjects(
            work_pb2.GetProjectsRequest(project_ids=[pid], include_milestones=True),
            metadata=as_caller(client_user),
            timeout=10,
        )

        [without] = plain.projects
        assert list(without.milestones) == []
        assert not without.HasField("next_milestone")
        [with_them] = asked.projects
        assert [(m.name, m.due_date, m.status) for m in with_them.milestones] == [
            ("Discovery", "2026-11-01", "completed"),
            ("Design", "2027-02-01", "open"),
            ("Launch", "", "open"),
        ]
        assert with_them.milestones[0].completed_at.endswith("Z")
        assert with_them.milestones[1].completed_at == ""
        assert with_them.next_milestone.name == "Design"
        assert "amount" not in str(with_them.milestones[0])
