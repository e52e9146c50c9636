"""Files through the gateway against the real platform and the real local S3 server
(versitygw): the team uploads by pre-signed POST (plain multipart to S3), completes and shares;
the client user downloads it through the portal's signed link; S3's policy refuses an upload
over the declared size; a type outside the allow-list is a 422; another client's user and
another agency get 404; a forged link fails at S3."""

from __future__ import annotations

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_problem
from agencyos.testing.inbox import join

from .test_portal_projects import client_project

pytestmark = pytest.mark.e2e

CONTENT = b"%PDF-1.4 the approved brief\n"


async def s3_post(upload: dict[str, object], content: bytes, content_type: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as s3:
        return await s3.post(
            str(upload["url"]),
            data=upload["fields"],  # type: ignore[arg-type]
            files={"file": ("brief.pdf", content, content_type)},
        )


class TestPortalFiles:
    async def test_a_shared_file_reaches_its_client_only(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Fay Files")
        x = await client_project(gateway, agency, manager, "Xylo")
        y = await client_project(gateway, agency, manager, "Yuma")
        pid = x["project"]["id"]

        asked = await gateway.post(
            f"/v1/projects/{pid}/files",
            json={"name": "Brief.pdf", "content_type": "application/pdf", "size": len(CONTENT)},
            headers=manager.headers,
        )
        assert asked.status_code == 201, asked.text
        ticket = asked.json()
        file_id = ticket["file"]["id"]

        # S3 refuses more bytes than declared, before storing anything.
        too_big = await s3_post(ticket["upload"], CONTENT + b"more", "application/pdf")
        assert too_big.status_code == 400, too_big.text
        stored = await s3_post(ticket["upload"], CONTENT, "application/pdf")
        assert stored.status_code in (200, 201, 204), stored.text
        done = await gateway.post(f"/v1/files/{file_id}/complete", headers=manager.headers)
        assert done.status_code == 200, done.text

        # Not shared yet: the client does not see it.
        hidden = await gateway.get(
            f"/v1/portal/files/{file_id}/download", headers=x["user"].headers
        )
        assert_problem(hidden, 404)
        shared = await gateway.patch(
            f"/v1/files/{file_id}", json={"shared_with_client": True}, headers=manager.headers
        )
        assert shared.status_code == 200, shared.text

        detail = await gateway.get(f"/v1/portal/projects/{pid}", headers=x["user"].headers)
        assert [f["id"] for f in detail.json()["files"]] == [file_id]
        link = await gateway.get(f"/v1/portal/files/{file_id}/download", headers=x["user"].headers)
        assert link.status_code == 200, link.text
        async with httpx.AsyncClient(timeout=30) as plain:
            got = await plain.get(link.json()["url"])
            assert got.status_code == 200
            assert got.content == CONTENT
            forged = await plain.get(
                link.json()["url"].replace("X-Amz-Signature=", "X-Amz-Signature=ff")
            )
            assert forged.status_code == 403

        # Another client of the agency, and another agency: 404 for the same id.
        assert_problem(
            await gateway.get(f"/v1/portal/files/{file_id}/download", headers=y["user"].headers),
            404,
        )
        assert_problem(
            await gateway.get(f"/v1/files/{file_id}/download", headers=other_agency.headers), 404
        )

        # A content type outside the allow-list.
        html = await gateway.post(
            f"/v1/projects/{pid}/files",
            json={"name": "x.html", "content_type": "text/html", "size": 10},
            headers=manager.headers,
        )
        assert_problem(html, 422)
