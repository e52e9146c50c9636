"""The portal's files against work's stand-in, whose links are signed into the real local
S3 server: the project view lists the files shown to the client, a download link serves the
bytes, a client's upload goes to S3 by pre-signed POST and attaches to feedback; another
client's files, internal ones and another agency's are 404; the team gets 403."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.testing.inprocess import InProcess

# The conftest's scene: agency, clients x and y, and a client of another agency.
Scene = Any


async def fetch(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as plain:
        return await plain.get(url)


async def send_to_s3(upload: dict[str, Any], content: bytes, content_type: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as s3:
        return await s3.post(
            upload["url"], data=upload["fields"], files={"file": ("f", content, content_type)}
        )


class TestFilesShownToTheClient:
    async def test_the_project_lists_what_the_client_sees_and_downloads_it(
        self, portal: httpx.AsyncClient, scene: Scene, in_process: InProcess
    ) -> None:
        work, agency, x = in_process.standins.work, scene.agency.id, scene.x
        shared = await work.add_file(agency, x.project_id, b"shared brief", shared_with_client=True)
        on_task = await work.add_file(agency, x.project_id, b"task", task_id=x.visible_task_id)
        internal = await work.add_file(agency, x.project_id, b"margins")
        on_internal = await work.add_file(
            agency, x.project_id, b"internal task", task_id=x.internal_task_id
        )

        view = await portal.get(f"/v1/portal/projects/{x.project_id}", headers=x.user.headers)
        assert view.status_code == 200, view.text
        ids = {f["id"] for f in view.json()["files"]}
        assert ids == {str(shared), str(on_task)}

        link = await portal.get(f"/v1/portal/files/{shared}/download", headers=x.user.headers)
        assert link.status_code == 200, link.text
        got = await fetch(link.json()["url"])
        assert got.status_code == 200
        assert got.content == b"shared brief"
        for hidden in (internal, on_internal):
            refused = await portal.get(
                f"/v1/portal/files/{hidden}/download", headers=x.user.headers
            )
            assert refused.status_code == 404, refused.text

    async def test_another_client_and_another_agency_get_404_and_the_team_403(
        self, portal: httpx.AsyncClient, scene: Scene, in_process: InProcess
    ) -> None:
        work, x = in_process.standins.work, scene.x
        shared = await work.add_file(
            scene.agency.id, x.project_id, b"for x only", shared_with_client=True
        )
        for who in (scene.y.user, scene.elsewhere.user):
            refused = await portal.get(f"/v1/portal/files/{shared}/download", headers=who.headers)
            assert refused.status_code == 404, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
        team = await portal.get(
            f"/v1/portal/files/{shared}/download", headers=scene.agency.owner.headers
        )
        assert team.status_code == 403

    async def test_a_forged_or_altered_link_fails_at_s3(
        self, portal: httpx.AsyncClient, scene: Scene, in_process: InProcess
    ) -> None:
        x = scene.x
        shared = await in_process.standins.work.add_file(
            scene.agency.id, x.project_id, b"secret", shared_with_client=True
        )
        link = (
            await portal.get(f"/v1/portal/files/{shared}/download", headers=x.user.headers)
        ).json()["url"]
        forged = link.replace("X-Amz-Signature=", "X-Amz-Signature=00")
        assert (await fetch(forged)).status_code == 403
        # The same signature for another object of the bucket
        other = link.replace(str(scene.agency.id), str(uuid.UUID(int=1)))
        assert (await fetch(other)).status_code == 403


class TestClientUploads:
    async def test_an_upload_completes_and_attaches_to_feedback(
        self, portal: httpx.AsyncClient, scene: Scene, in_process: InProcess
    ) -> None:
        x, content = scene.x, b"\x89PNG fake screenshot"
        started = await portal.post(
            f"/v1/portal/projects/{x.project_id}/uploads",
            json={"name": "screen.png", "content_type": "image/png", "size": len(content)},
            headers=x.user.headers,
        )
        assert started.status_code == 201, started.text
        ticket = started.json()
        file_id = ticket["file"]["id"]
        early = await portal.post(f"/v1/portal/uploads/{file_id}/complete", headers=x.user.headers)
        assert early.status_code == 412, early.text
        stored = await send_to_s3(ticket["upload"], content, "image/png")
        assert stored.status_code in (200, 201, 204), stored.text
        done = await portal.post(f"/v1/portal/uploads/{file_id}/complete", headers=x.user.headers)
        assert done.status_code == 200, done.text
        assert done.json()["status"] == "uploaded"
        # Another client's user cannot complete it.
        other = await portal.post(
            f"/v1/portal/uploads/{file_id}/complete", headers=scene.y.user.headers
        )
        assert other.status_code == 404

        feedback = await portal.post(
            "/v1/portal/feedback",
            json={"project_id": str(x.project_id), "message": "See it", "attachments": [file_id]},
            headers=x.user.headers,
        )
        assert feedback.status_code == 201, feedback.text
        _, request = in_process.standins.work.feedback[-1]
        assert list(request.attachment_ids) == [file_id]

    async def test_another_clients_upload_cannot_be_attached(
        self, portal: httpx.AsyncClient, scene: Scene, in_process: InProcess
    ) -> None:
        x, y = scene.x, scene.y
        theirs = await in_process.standins.work.add_file(
            scene.agency.id,
            y.project_id,
            b"y's",
            uploaded_by=y.user.user_id,
            uploaded_by_client=True,
        )
        feedback = await portal.post(
            "/v1/portal/feedback",
            json={"project_id": str(x.project_id), "message": "Hi", "attachments": [str(theirs)]},
            headers=x.user.headers,
        )
        assert feedback.status_code == 422, feedback.text

    async def test_a_type_outside_the_allow_list_is_a_422_and_another_project_404(
        self, portal: httpx.AsyncClient, scene: Scene
    ) -> None:
        x = scene.x
        html = await portal.post(
            f"/v1/portal/projects/{x.project_id}/uploads",
            json={"name": "x.html", "content_type": "text/html", "size": 10},
            headers=x.user.headers,
        )
        assert html.status_code == 422, html.text
        assert html.headers["content-type"] == "application/problem+json"
        huge = await portal.post(
            f"/v1/portal/projects/{x.project_id}/uploads",
            json={"name": "x.pdf", "content_type": "application/pdf", "size": 2**70},
            headers=x.user.headers,
        )
        assert huge.status_code == 422, huge.text
        elsewhere = await portal.post(
            f"/v1/portal/projects/{scene.y.project_id}/uploads",
            json={"name": "x.pdf", "content_type": "application/pdf", "size": 10},
            headers=x.user.headers,
        )
        assert elsewhere.status_code == 404
