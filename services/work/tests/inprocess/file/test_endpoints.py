"""Files through work's REST routes against the real local S3 server (versitygw): an upload
by pre-signed POST, completion checked with HEAD, downloads by signed GET handed out after the
permission check, sharing, deletion, and the refusals (type, size, unknown task, another
agency, a member off the project, a client user)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import Agency, Caller

WorkEvents = Callable[..., Awaitable[list[dict[str, Any]]]]

PDF = b"%PDF-1.4 a small test document\n"


async def create_project(work: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Project {uuid.uuid4().hex[:8]}", **fields}
    response = await work.post("/v1/projects", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def request_upload(
    work: httpx.AsyncClient, who: Caller, project_id: str, content: bytes = PDF, **fields: Any
) -> httpx.Response:
    body = {"name": "brief.pdf", "content_type": "application/pdf", "size": len(content)}
    body.update(fields)
    return await work.post(f"/v1/projects/{project_id}/files", json=body, headers=who.headers)


async def send_to_s3(upload: dict[str, Any], content: bytes, content_type: str) -> httpx.Response:
    """The browser's part: a multipart POST straight to the store (no token of ours)."""
    async with httpx.AsyncClient(timeout=30) as s3:
        return await s3.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("upload.bin", content, content_type)},
        )


async def uploaded_file(
    work: httpx.AsyncClient, who: Caller, project_id: str, content: bytes = PDF, **fields: Any
) -> dict[str, Any]:
    response = await request_upload(work, who, project_id, content, **fields)
    assert response.status_code == 201, response.text
    ticket = response.json()
    stored = await send_to_s3(ticket["upload"], content, ticket["file"]["content_type"])
    assert stored.status_code in (200, 201, 204), stored.text
    done = await work.post(f"/v1/files/{ticket['file']['id']}/complete", headers=who.headers)
    assert done.status_code == 200, done.text
    body: dict[str, Any] = done.json()
    return body


class TestUpload:
    async def test_a_file_uploaded_and_completed_is_listed_and_downloads_with_its_name(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency)
        response = await request_upload(work, agency, project["id"], name="Brief v2 é.pdf")
        assert response.status_code == 201, response.text
        ticket = response.json()
        assert ticket["file"]["status"] == "pending"
        assert ticket["file"]["name"] == "Brief v2 é.pdf"
        # The key is ours: the agency's prefix and a uuid, never the file's name.
        key = ticket["upload"]["fields"]["key"]
        assert key.startswith(f"{agency.agency_id}/")
        assert "Brief" not in key
        # Not listed while pending.
        listed = await work.get(f"/v1/projects/{project['id']}/files", headers=agency.headers)
        assert listed.json()["total"] == 0

        stored = await send_to_s3(ticket["upload"], PDF, "application/pdf")
        assert stored.status_code in (200, 201, 204), stored.text
        done = await work.post(f"/v1/files/{ticket['file']['id']}/complete", headers=agency.headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "uploaded"

        listed = await work.get(f"/v1/projects/{project['id']}/files", headers=agency.headers)
        assert [f["id"] for f in listed.json()["items"]] == [ticket["file"]["id"]]
        events = await work_events(agency.agency_id, "work.file.uploaded")
        assert [e["data"]["file_id"] for e in events] == [ticket["file"]["id"]]
        assert events[0]["data"]["shared_with_client"] is False

        link = await work.get(f"/v1/files/{ticket['file']['id']}/download", headers=agency.headers)
        assert link.status_code == 200, link.text
        async with httpx.AsyncClient() as plain:
            got = await plain.get(link.json()["url"])
        assert got.status_code == 200
        assert got.content == PDF
        assert got.headers["content-disposition"].startswith("attachment;")
        assert "Brief%20v2%20%C3%A9.pdf" in got.headers["content-disposition"]

    async def test_completing_before_the_bytes_are_stored_is_a_409(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        ticket = (await request_upload(work, agency, project["id"])).json()
        done = await work.post(f"/v1/files/{ticket['file']['id']}/complete", headers=agency.headers)
        assert done.status_code == 409, done.text
        assert done.headers["content-type"] == "application/problem+json"
        # and a pending file gives no download link
        link = await work.get(f"/v1/files/{ticket['file']['id']}/download", headers=agency.headers)
        assert link.status_code == 404

    async def test_s3_refuses_a_file_larger_than_declared(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        ticket = (await request_upload(work, agency, project["id"], content=b"tiny")).json()
        stored = await send_to_s3(ticket["upload"], b"tiny but longer", "application/pdf")
        assert stored.status_code == 400, stored.text
        assert "EntityTooLarge" in stored.text
        done = await work.post(f"/v1/files/{ticket['file']['id']}/complete", headers=agency.headers)
        assert done.status_code == 409

    async def test_s3_refuses_another_content_type_than_declared(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        ticket = (await request_upload(work, agency, project["id"])).json()
        fields = {**ticket["upload"]["fields"], "Content-Type": "text/html"}
        stored = await send_to_s3({**ticket["upload"], "fields": fields}, PDF, "text/html")
        assert stored.status_code == 403, stored.text

    @pytest.mark.parametrize(
        ("fields", "named"),
        [
            ({"content_type": "text/html"}, "content_type"),
            ({"content_type": "image/svg+xml"}, "content_type"),
            ({"size": 50 * 1024 * 1024 + 1}, "size"),
            ({"size": 0}, "size"),
            ({"size": 2**70}, "size"),
            ({"name": ""}, "name"),
            ({"task_id": "00000000-0000-4000-8000-000000000001"}, "task_id"),
            ({"deliverable_id": "00000000-0000-4000-8000-000000000002"}, "deliverable_id"),
        ],
        ids=[
            "html",
            "svg",
            "over-limit",
            "empty",
            "huge",
            "no-name",
            "unknown-task",
            "unknown-deliv",
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self, work: httpx.AsyncClient, agency: Caller, fields: dict[str, Any], named: str
    ) -> None:
        project = await create_project(work, agency)
        response = await request_upload(work, agency, project["id"], **fields)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert named in [e["field"].split(".")[-1] for e in response.json()["errors"]]

    async def test_a_file_attaches_to_a_task_of_the_project_and_lists_with_it(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        task = await work.post(
            f"/v1/projects/{project['id']}/tasks", json={"title": "Logo"}, headers=agency.headers
        )
        assert task.status_code == 201, task.text
        task_id = task.json()["id"]
        attached = await uploaded_file(work, agency, project["id"], task_id=task_id)
        await uploaded_file(work, agency, project["id"])
        listed = await work.get(f"/v1/tasks/{task_id}/files", headers=agency.headers)
        assert [f["id"] for f in listed.json()["items"]] == [attached["id"]]
        # A task of another project is not this project's.
        other = await create_project(work, agency)
        refused = await request_upload(work, agency, other["id"], task_id=task_id)
        assert refused.status_code == 422


class TestSharingAndDeletion:
    async def test_a_deleted_task_leaves_its_files_to_the_project(
        self, work: httpx.AsyncClient, agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        task = await work.post(
            f"/v1/projects/{project['id']}/tasks", json={"title": "Logo"}, headers=agency.headers
        )
        task_id = task.json()["id"]
        attached = await uploaded_file(work, agency, project["id"], task_id=task_id)
        gone = await work.delete(f"/v1/tasks/{task_id}", headers=agency.headers)
        assert gone.status_code == 204, gone.text
        kept = await work.get(f"/v1/files/{attached['id']}", headers=agency.headers)
        assert kept.status_code == 200
        assert kept.json()["task_id"] is None
        link = await work.get(f"/v1/files/{attached['id']}/download", headers=agency.headers)
        async with httpx.AsyncClient() as plain:
            assert (await plain.get(link.json()["url"])).content == PDF

    async def test_sharing_is_audited_and_deleting_removes_the_bytes(
        self, work: httpx.AsyncClient, agency: Caller, work_events: WorkEvents
    ) -> None:
        project = await create_project(work, agency)
        file = await uploaded_file(work, agency, project["id"])
        shared = await work.patch(
            f"/v1/files/{file['id']}", json={"shared_with_client": True}, headers=agency.headers
        )
        assert shared.status_code == 200, shared.text
        assert shared.json()["shared_with_client"] is True
        audit = await work_events(agency.agency_id, "audit.recorded", action="file.shared")
        assert len(audit) == 1

        link = (await work.get(f"/v1/files/{file['id']}/download", headers=agency.headers)).json()
        gone = await work.delete(f"/v1/files/{file['id']}", headers=agency.headers)
        assert gone.status_code == 204
        deleted = await work_events(agency.agency_id, "work.file.deleted", file_id=file["id"])
        assert deleted[0]["data"]["shared_with_client"] is True
        async with httpx.AsyncClient() as plain:
            assert (await plain.get(link["url"])).status_code == 404
        assert (
            await work.get(f"/v1/files/{file['id']}", headers=agency.headers)
        ).status_code == 404


class TestWhoMay:
    async def test_another_agency_gets_404_for_every_route(
        self, work: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        project = await create_project(work, agency)
        file = await uploaded_file(work, agency, project["id"])
        fid, pid = file["id"], project["id"]
        h = other_agency.headers
        assert (await request_upload(work, other_agency, pid)).status_code == 404
        assert (await work.get(f"/v1/projects/{pid}/files", headers=h)).status_code == 404
        assert (await work.get(f"/v1/files/{fid}", headers=h)).status_code == 404
        assert (await work.get(f"/v1/files/{fid}/download", headers=h)).status_code == 404
        assert (await work.post(f"/v1/files/{fid}/complete", headers=h)).status_code == 404
        patch = await work.patch(f"/v1/files/{fid}", json={"shared_with_client": True}, headers=h)
        assert patch.status_code == 404
        assert (await work.delete(f"/v1/files/{fid}", headers=h)).status_code == 404

    async def test_a_member_off_the_project_gets_404_and_a_client_user_403(
        self, work: httpx.AsyncClient, agency: Caller, tenant: Agency
    ) -> None:
        project = await create_project(work, agency)
        file = await uploaded_file(work, agency, project["id"])
        member = tenant.caller("member")
        link = await work.get(f"/v1/files/{file['id']}/download", headers=member.headers)
        assert link.status_code == 404
        client_user = tenant.caller("client")
        link = await work.get(f"/v1/files/{file['id']}/download", headers=client_user.headers)
        assert link.status_code == 403
        upload = await request_upload(work, client_user, project["id"])
        assert upload.status_code == 403
