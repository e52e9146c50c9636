"""GetClientProjectView: the portal's project page in one gRPC call, by the rules of the
methods it combines — a client user of the project's client sees the project with its
milestones (never amounts), its client-visible tasks, its deliverables but drafts and the files
shown to it; another client's user gets NOT_FOUND; staff are refused."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.work.v1 import work_pb2
from agencyos.protos.work.v1.work_pb2_grpc import WorkServiceStub
from agencyos.testing.factories import as_caller
from agencyos.testing.http import unverified_jwt
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def _post(work: httpx.AsyncClient, who: Caller, path: str, body: Any = None) -> Any:
    response = await work.post(path, json=body, headers=who.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _shared_file(work: httpx.AsyncClient, who: Caller, project_id: str, shared: bool) -> str:
    body = {
        "name": "spec.pdf",
        "content_type": "application/pdf",
        "size": 3,
        "shared_with_client": shared,
    }
    ticket = await _post(work, who, f"/v1/projects/{project_id}/files", body)
    async with httpx.AsyncClient() as s3:
        stored = await s3.post(
            ticket["upload"]["url"],
            data=ticket["upload"]["fields"],
            files={"file": ("f", b"pdf", "application/pdf")},
        )
    assert stored.status_code in (200, 201, 204), stored.text
    await _post(work, who, f"/v1/files/{ticket['file']['id']}/complete")
    return str(ticket["file"]["id"])


@pytest.fixture
async def scene(
    work: httpx.AsyncClient, in_process: InProcess, tenant: Agency, agency: Caller
) -> dict[str, Any]:
    client_user = tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    project = await _post(
        work, agency, "/v1/projects", {"name": f"P {uuid.uuid4().hex[:6]}", "client_id": client_id}
    )
    pid = project["id"]
    visible = await _post(
        work, agency, f"/v1/projects/{pid}/tasks", {"title": "Shown", "visible_to_client": True}
    )
    await _post(work, agency, f"/v1/projects/{pid}/tasks", {"title": "Internal only"})
    await _post(
        work,
        agency,
        f"/v1/projects/{pid}/milestones",
        {"name": "Launch", "due_date": "2027-03-01", "amount_cents": 500000},
    )
    submitted = await _post(work, agency, f"/v1/projects/{pid}/deliverables", {"title": "Design"})
    await _post(work, agency, f"/v1/deliverables/{submitted['id']}/submit")
    await _post(work, agency, f"/v1/projects/{pid}/deliverables", {"title": "Draft"})
    shared = await _shared_file(work, agency, pid, shared=True)
    await _shared_file(work, agency, pid, shared=False)
    return {
        "client_user": client_user,
        "project_id": pid,
        "visible_task": visible["id"],
        "submitted": submitted["id"],
        "shared_file": shared,
    }


class TestClientProjectView:
    async def test_the_client_user_gets_the_whole_page_of_what_its_client_is_shown(
        self, stub: WorkServiceStub, scene: dict[str, Any]
    ) -> None:
        view = await stub.GetClientProjectView(
            work_pb2.GetClientProjectViewRequest(project_id=scene["project_id"]),
            metadata=as_caller(scene["client_user"]),
        )

        assert view.project.id == scene["project_id"]
        assert [(m.name, m.due_date) for m in view.project.milestones] == [("Launch", "2027-03-01")]
        assert "amount" not in str(view.project.milestones[0]).lower()
        assert [t.id for t in view.tasks] == [scene["visible_task"]]
        assert [d.id for d in view.deliverables] == [scene["submitted"]]
        assert [f.id for f in view.files] == [scene["shared_file"]]

    async def test_another_clients_user_gets_not_found(
        self,
        stub: WorkServiceStub,
        scene: dict[str, Any],
        in_process: InProcess,
        tenant: Agency,
    ) -> None:
        other = tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetClientProjectView(
                work_pb2.GetClientProjectViewRequest(project_id=scene["project_id"]),
                metadata=as_caller(other),
            )
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_staff_are_refused(
        self, stub: WorkServiceStub, scene: dict[str, Any], agency: Caller
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetClientProjectView(
                work_pb2.GetClientProjectViewRequest(project_id=scene["project_id"]),
                metadata=as_caller(agency),
            )
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
