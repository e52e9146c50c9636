"""The client's decisions on deliverables over gRPC: only the project's own client (or
agency staff with `projects.write`) lists and decides on submitted deliverables."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller
from agencyos.testing.http import unverified_jwt
from agencyos.testing.inprocess import Agency, Caller, InProcess

# The conftest's `work_events`: the events work wrote to its outbox.
WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def create_deliverable(
    work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"title": f"Deliverable {uuid.uuid4().hex[:6]}", **fields}
    response = await work.post(
        f"/v1/projects/{project_id}/deliverables", json=body, headers=who.headers
    )
    assert response.status_code == 201, response.text
    deliverable: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/v1/deliverables/{deliverable['id']}"
    return deliverable


async def submit(
    work: httpx.AsyncClient, who: Caller, deliverable_id: str, **body: Any
) -> dict[str, Any]:
    response = await work.post(
        f"/v1/deliverables/{deliverable_id}/submit", json=body or None, headers=who.headers
    )
    assert response.status_code == 200, response.text
    deliverable: dict[str, Any] = response.json()
    return deliverable


async def history(
    work: httpx.AsyncClient, who: Caller, deliverable_id: str
) -> list[tuple[str, str | None, str]]:
    response = await work.get(f"/v1/deliverables/{deliverable_id}/history", headers=who.headers)
    assert response.status_code == 200, response.text
    return [(d["decision"], d["comment"], d["actor_id"]) for d in response.json()["items"]]


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def approve_rpc(stub: WorkServiceStub, who: Caller, deliverable_id: str, comment: str = "") -> Any:
    return stub.ApproveDeliverable(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


def changes_rpc(stub: WorkServiceStub, who: Caller, deliverable_id: str, comment: str = "") -> Any:
    return stub.RequestDeliverableChanges(
        work_pb2.DeliverableDecisionRequest(deliverable_id=deliverable_id, comment=comment),
        metadata=as_caller(who),
        timeout=30,
    )


def list_rpc(stub: WorkServiceStub, who: Caller, project_id: str) -> Any:
    return stub.ListClientDeliverables(
        work_pb2.ListClientDeliverablesRequest(project_id=project_id),
        metadata=as_caller(who),
        timeout=30,
    )


async def client_project(
    in_process: InProcess, tenant: Agency, work: httpx.AsyncClient, agency: Caller
) -> tuple[Caller, dict[str, Any]]:
    """A client user of `agency` and a project of that user's client (a client declared on
    CRM's stand-in)."""
    client_user = tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    project = await create_project(work, agency, client_id=client_id)
    assert project["client_id"] == client_id
    return client_user, project


class TestClientDecisionsRpc:
    async def test_the_projects_client_sees_non_drafts_and_decides_on_submitted_ones(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        work_events: WorkEvents,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        pid = project["id"]
        draft = await create_deliverable(work, agency, pid, title="Draft")
        design = await create_deliverable(
            work, agency, pid, title="Design", link_url="https://example.com/d"
        )
        copy = await create_deliverable(work, agency, pid, title="Copy")
        await submit(work, agency, design["id"])
        await submit(work, agency, copy["id"])

        listed = await list_rpc(stub, client_user, pid)
        assert [(d.title, d.status) for d in listed.deliverables] == [
            ("Design", "submitted"),
            ("Copy", "submitted"),
        ]
        assert listed.deliverables[0].link_url == "https://example.com/d"
        assert listed.deliverables[0].submitted_at.endswith("Z")
        assert listed.deliverables[0].decided_at == ""

        approved = await approve_rpc(stub, client_user, design["id"], "Lovely")
        assert (approved.id, approved.status) == (design["id"], "approved")
        assert approved.decided_at != ""
        missing_comment = await rpc_error(changes_rpc(stub, client_user, copy["id"], "  "))
        assert missing_comment.code() == grpc.StatusCode.INVALID_ARGUMENT
        changed = await changes_rpc(stub, client_user, copy["id"], "Shorter please")
        assert changed.status == "changes_requested"
        twice = await rpc_error(approve_rpc(stub, client_user, design["id"]))
        assert twice.code() == grpc.StatusCode.FAILED_PRECONDITION
        not_submitted = await rpc_error(changes_rpc(stub, client_user, copy["id"], "More"))
        assert not_submitted.code() == grpc.StatusCode.FAILED_PRECONDITION
        # Drafts do not exist for the client.
        hidden = await rpc_error(approve_rpc(stub, client_user, draft["id"]))
        assert hidden.code() == grpc.StatusCode.NOT_FOUND

        who = str(client_user.user_id)
        assert await history(work, agency, design["id"]) == [
            ("approved", "Lovely", who),
            ("submitted", None, str(agency.user_id)),
        ]
        assert (await history(work, agency, copy["id"]))[0] == (
            "changes_requested",
            "Shorter please",
            who,
        )
        [approval] = await work_events(
            agency.agency_id, "work.deliverable.approved", deliverable_id=design["id"]
        )
        [request] = await work_events(
            agency.agency_id, "work.deliverable.changes_requested", deliverable_id=copy["id"]
        )
        assert approval["data"]["client_id"] == project["client_id"]
        assert (approval["data"]["actor_id"], approval["data"]["comment"]) == (who, "Lovely")
        assert request["data"]["comment"] == "Shorter please"
        again = await work.get(f"/v1/deliverables/{copy['id']}", headers=agency.headers)
        assert again.json()["status"] == "changes_requested"

    async def test_another_clients_user_and_another_agency_get_not_found(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        other_agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        _, project = await client_project(in_process, tenant, work, agency)
        stranger = tenant.caller("client")
        member = tenant.caller("member")
        deliverable = await create_deliverable(work, agency, project["id"])
        await submit(work, agency, deliverable["id"])
        did = deliverable["id"]

        for caller in (stranger, other_agency, member):
            for call in (
                approve_rpc(stub, caller, did),
                changes_rpc(stub, caller, did, "No"),
            ):
                assert (await rpc_error(call)).code() == grpc.StatusCode.NOT_FOUND
        for caller in (stranger, other_agency):
            listing = await rpc_error(list_rpc(stub, caller, project["id"]))
            assert listing.code() == grpc.StatusCode.NOT_FOUND
        unknown = await rpc_error(approve_rpc(stub, agency, str(uuid.uuid4())))
        malformed = await rpc_error(approve_rpc(stub, agency, "nope"))
        assert unknown.code() == grpc.StatusCode.NOT_FOUND
        assert malformed.code() == grpc.StatusCode.INVALID_ARGUMENT
        still = await work.get(f"/v1/deliverables/{did}", headers=agency.headers)
        assert still.json()["status"] == "submitted"

    async def test_agency_staff_with_projects_write_record_the_clients_decision(
        self, work: httpx.AsyncClient, stub: WorkServiceStub, agency: Caller, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        project = await create_project(work, agency)
        deliverable = await create_deliverable(work, agency, project["id"])
        draft = await create_deliverable(work, agency, project["id"])
        await submit(work, agency, deliverable["id"])

        listed = await list_rpc(stub, manager, project["id"])
        approved = await approve_rpc(stub, manager, deliverable["id"])
        # Staff see drafts, but a draft is not awaiting a decision.
        on_draft = await rpc_error(approve_rpc(stub, manager, draft["id"]))

        assert [d.id for d in listed.deliverables] == [deliverable["id"]]
        assert approved.status == "approved"
        assert on_draft.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert (await history(work, agency, deliverable["id"]))[0] == (
            "approved",
            None,
            str(manager.user_id),
        )


def awaiting_rpc(stub: WorkServiceStub, who: Caller, status: str = "submitted") -> Any:
    """The caller's client's deliverables across all its projects (no project named)."""
    return stub.ListClientDeliverables(
        work_pb2.ListClientDeliverablesRequest(status=status),
        metadata=as_caller(who),
        timeout=30,
    )


class TestDeliverablesAcrossProjectsRpc:
    """The portal's dashboard asks once for every deliverable awaiting the client's decision,
    across its client's projects."""

    async def test_a_client_user_gets_its_clients_submitted_deliverables_of_every_project(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user, first = await client_project(in_process, tenant, work, agency)
        client_id = unverified_jwt(client_user.access_token)[1]["cid"]
        second = await create_project(work, agency, client_id=client_id)
        _, others = await client_project(in_process, tenant, work, agency)
        older = await create_deliverable(work, agency, first["id"], title="Logo")
        newer = await create_deliverable(work, agency, second["id"], title="Copy")
        decided = await create_deliverable(work, agency, first["id"], title="Brief")
        await create_deliverable(work, agency, second["id"], title="Draft")
        theirs = await create_deliverable(work, agency, others["id"], title="Not yours")
        for deliverable in (older, newer, decided, theirs):
            await submit(work, agency, deliverable["id"])
        await approve_rpc(stub, client_user, decided["id"])

        awaiting = await awaiting_rpc(stub, client_user)
        everything = await awaiting_rpc(stub, client_user, status="")

        assert [(d.title, d.project_id) for d in awaiting.deliverables] == [
            ("Logo", first["id"]),
            ("Copy", second["id"]),
        ]
        assert [d.title for d in everything.deliverables] == ["Logo", "Copy", "Brief"]

    async def test_staff_must_name_a_project_and_a_status_must_be_one_the_client_sees(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user, _ = await client_project(in_process, tenant, work, agency)

        staff = await rpc_error(awaiting_rpc(stub, tenant.caller("manager")))
        draft = await rpc_error(awaiting_rpc(stub, client_user, status="draft"))

        assert staff.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "project_id" in (staff.details() or "")
        assert draft.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "status" in (draft.details() or "")

    async def test_another_agencys_client_user_gets_none_of_them(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        agency: Caller,
        tenant: Agency,
        other_tenant: Agency,
        in_process: InProcess,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        deliverable = await create_deliverable(work, agency, project["id"])
        await submit(work, agency, deliverable["id"])
        # The same client id, in a token of another agency.
        client_id = unverified_jwt(client_user.access_token)[1]["cid"]
        impostor = other_tenant.caller("client", client_id=uuid.UUID(client_id))

        mine = await awaiting_rpc(stub, client_user)
        elsewhere = await awaiting_rpc(stub, impostor)

        assert [d.id for d in mine.deliverables] == [deliverable["id"]]
        assert list(elsewhere.deliverables) == []
