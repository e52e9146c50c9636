"""work's file methods for the portal over gRPC (the real servicer, the real local S3): a
client user sees and downloads only what its client is shown, uploads into its own client's
projects, completes only its own uploads, and attaches them to feedback."""

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

CONTENT = b"client's screenshot bytes"


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def client_project(
    in_process: InProcess, tenant: Agency, work: httpx.AsyncClient, agency: Caller
) -> tuple[Caller, dict[str, Any]]:
    client_user = tenant.caller("client", client_id=in_process.standins.crm.add_client(tenant.id))
    client_id = unverified_jwt(client_user.access_token)[1]["cid"]
    return client_user, await create_project(work, agency, client_id=client_id)


async def team_file(work: httpx.AsyncClient, who: Caller, project_id: str, **fields: Any) -> str:
    body = {"name": "spec.pdf", "content_type": "application/pdf", "size": 3, **fields}
    ticket = (
        await work.post(f"/v1/projects/{project_id}/files", json=body, headers=who.headers)
    ).json()
    async with httpx.AsyncClient() as s3:
        stored = await s3.post(
            ticket["upload"]["url"],
            data=ticket["upload"]["fields"],
            files={"file": ("f", b"pdf", "application/pdf")},
        )
    assert stored.status_code in (200, 201, 204), stored.text
    done = await work.post(f"/v1/files/{ticket['file']['id']}/complete", headers=who.headers)
    assert done.status_code == 200, done.text
    return str(ticket["file"]["id"])


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


class TestClientFiles:
    async def test_the_client_sees_shared_files_and_its_own_never_internal_ones(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        in_process: InProcess,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        pid = project["id"]
        shared = await team_file(work, agency, pid, shared_with_client=True)
        internal = await team_file(work, agency, pid)
        listed = await stub.ListClientFiles(
            work_pb2.ListClientFilesRequest(project_id=pid), metadata=as_caller(client_user)
        )
        assert [f.id for f in listed.files] == [shared]
        link = await stub.GetClientFileDownload(
            work_pb2.GetClientFileDownloadRequest(file_id=shared), metadata=as_caller(client_user)
        )
        async with httpx.AsyncClient() as plain:
            assert (await plain.get(link.url)).content == b"pdf"
        hidden = await rpc_error(
            stub.GetClientFileDownload(
                work_pb2.GetClientFileDownloadRequest(file_id=internal),
                metadata=as_caller(client_user),
            )
        )
        assert hidden.code() == grpc.StatusCode.NOT_FOUND
        # Another client of the agency: not found, even for the shared file.
        other_user, _ = await client_project(in_process, tenant, work, agency)
        other = await rpc_error(
            stub.GetClientFileDownload(
                work_pb2.GetClientFileDownloadRequest(file_id=shared),
                metadata=as_caller(other_user),
            )
        )
        assert other.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_client_upload_completes_and_attaches_to_its_feedback_task(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        in_process: InProcess,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        pid = project["id"]
        upload = await stub.RequestClientUpload(
            work_pb2.RequestClientUploadRequest(
                project_id=pid, name="shot.png", content_type="image/png", size_bytes=len(CONTENT)
            ),
            metadata=as_caller(client_user),
        )
        early = await rpc_error(
            stub.CompleteClientUpload(
                work_pb2.CompleteClientUploadRequest(file_id=upload.file.id),
                metadata=as_caller(client_user),
            )
        )
        assert early.code() == grpc.StatusCode.FAILED_PRECONDITION
        async with httpx.AsyncClient() as s3:
            stored = await s3.post(
                upload.url, data=dict(upload.fields), files={"file": ("f", CONTENT, "image/png")}
            )
        assert stored.status_code in (200, 201, 204), stored.text
        # Someone else (the team via gRPC, another client user) cannot complete it.
        other_user, _ = await client_project(in_process, tenant, work, agency)
        stranger = await rpc_error(
            stub.CompleteClientUpload(
                work_pb2.CompleteClientUploadRequest(file_id=upload.file.id),
                metadata=as_caller(other_user),
            )
        )
        assert stranger.code() == grpc.StatusCode.NOT_FOUND
        done = await stub.CompleteClientUpload(
            work_pb2.CompleteClientUploadRequest(file_id=upload.file.id),
            metadata=as_caller(client_user),
        )
        assert done.status == "uploaded"

        task = await stub.CreateTaskFromFeedback(
            work_pb2.CreateTaskFromFeedbackRequest(
                project_id=pid, title="Blurry", attachment_ids=[upload.file.id]
            ),
            metadata=as_caller(client_user),
        )
        files = await work.get(f"/v1/tasks/{task.id}/files", headers=agency.headers)
        assert [f["id"] for f in files.json()["items"]] == [upload.file.id]
        # Attached once only.
        again = await rpc_error(
            stub.CreateTaskFromFeedback(
                work_pb2.CreateTaskFromFeedbackRequest(
                    project_id=pid, title="Again", attachment_ids=[upload.file.id]
                ),
                metadata=as_caller(client_user),
            )
        )
        assert again.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_team_file_cannot_be_attached_by_the_client(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        in_process: InProcess,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        shared = await team_file(work, agency, project["id"], shared_with_client=True)
        refused = await rpc_error(
            stub.CreateTaskFromFeedback(
                work_pb2.CreateTaskFromFeedbackRequest(
                    project_id=project["id"], title="Mine?", attachment_ids=[shared]
                ),
                metadata=as_caller(client_user),
            )
        )
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "attachment_ids" in (refused.details() or "") or "own" in (refused.details() or "")

    async def test_a_type_outside_the_allow_list_is_invalid(
        self,
        work: httpx.AsyncClient,
        stub: WorkServiceStub,
        in_process: InProcess,
        tenant: Agency,
        agency: Caller,
    ) -> None:
        client_user, project = await client_project(in_process, tenant, work, agency)
        refused = await rpc_error(
            stub.RequestClientUpload(
                work_pb2.RequestClientUploadRequest(
                    project_id=project["id"],
                    name="x.exe",
                    content_type="application/x-msdownload",
                    size_bytes=10,
                ),
                metadata=as_caller(client_user),
            )
        )
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
