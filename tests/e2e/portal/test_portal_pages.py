"""The portal's pages as forms without JavaScript, through the gateway against the whole
platform: asking for changes to a deliverable (a comment required), feedback that is empty,
a decision already taken, and what the pages say of each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.inbox import join
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform
from agencyos.testing.portal_web import PortalVisitor

from .portal_support import client_of, ok

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


class TestDecisionsAndFeedback:
    async def test_changes_are_requested_with_a_comment_and_a_decision_is_taken_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Max Manager")
        x = await client_of(gateway, agency, manager, "Cleo")
        review = f"/projects/{x.project_id}/deliverables/{x.deliverable_id}"
        decide = f"/deliverables/{x.deliverable_id}"

        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, x.user.email)
            page = await visitor.get(review)
            assert page.status_code == 200
            assert '<label for="changes-comment">' in page.text

            without_comment = await visitor.post(
                f"{decide}/request-changes", {"project_id": x.project_id, "comment": "  "}
            )
            assert without_comment.status_code == 303
            told = await visitor.get(review)
            assert "Say what should change" in told.text
            assert "submitted" in told.text  # nothing was decided

            asked = await visitor.post(
                f"{decide}/request-changes",
                {"project_id": x.project_id, "comment": "Darker blue, please"},
            )
            assert asked.status_code == 303
            after = await visitor.get(review)
            assert "Changes requested" in after.text
            assert 'id="approve"' not in after.text  # no longer awaiting a decision
            shown_once = await visitor.get(review)
            assert "Changes requested. The team" not in shown_once.text

            again = await visitor.post(
                f"{decide}/approve", {"project_id": x.project_id, "comment": ""}
            )

        assert again.status_code == 412, again.text
        assert again.headers["content-type"].startswith("text/html")
        decided = await ok(
            await gateway.get(f"/v1/deliverables/{x.deliverable_id}", headers=manager.headers)
        )
        assert decided["status"] == "changes_requested"

    async def test_empty_feedback_is_sent_back_with_a_message(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Fay Manager")
        x = await client_of(gateway, agency, manager, "Finn")

        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, x.user.email)
            await visitor.get(f"/projects/{x.project_id}/feedback")
            empty = await visitor.post(f"/projects/{x.project_id}/feedback", {"message": " \n "})

        assert empty.status_code == 422
        assert 'role="alert"' in empty.text
        tasks = await ok(
            await gateway.get(f"/v1/projects/{x.project_id}/tasks", headers=manager.headers)
        )
        assert len(tasks["items"]) == 2  # the project's own two tasks, nothing new


CONTENT = b"%PDF-1.4 the approved brief\n"


async def shared_file(
    gateway: httpx.AsyncClient, manager: AgencySession, project_id: str, name: str
) -> str:
    """A file of the project, uploaded to the local S3 and shared with the client."""
    ticket = await ok(
        await gateway.post(
            f"/v1/projects/{project_id}/files",
            json={"name": name, "content_type": "application/pdf", "size": len(CONTENT)},
            headers=manager.headers,
        ),
        201,
    )
    upload = ticket["upload"]
    async with httpx.AsyncClient(timeout=30) as s3:
        stored = await s3.post(
            str(upload["url"]),
            data=upload["fields"],
            files={"file": (name, CONTENT, "application/pdf")},
        )
    assert stored.status_code in (200, 201, 204), stored.text
    file_id = str(ticket["file"]["id"])
    await ok(await gateway.post(f"/v1/files/{file_id}/complete", headers=manager.headers))
    await ok(
        await gateway.patch(
            f"/v1/files/{file_id}", json={"shared_with_client": True}, headers=manager.headers
        )
    )
    return file_id


class TestFiles:
    async def test_a_shared_file_is_listed_and_downloaded_from_the_project_page(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Flo Manager")
        x = await client_of(gateway, agency, manager, "Fern")
        y = await client_of(gateway, agency, manager, "Yew")
        own = await shared_file(gateway, manager, x.project_id, "Brief.pdf")
        others = await shared_file(gateway, manager, y.project_id, "Secret.pdf")

        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, x.user.email)
            project = await visitor.get(f"/projects/{x.project_id}")
            download = await visitor.get(f"/files/{own}")
            refused = await visitor.get(f"/files/{others}")

        assert project.status_code == 200
        assert f'href="/portal/{agency.slug}/files/{own}"' in project.text
        assert "Secret.pdf" not in project.text
        assert download.status_code == 303
        async with httpx.AsyncClient(timeout=30) as plain:
            got = await plain.get(download.headers["location"])
        assert got.content == CONTENT
        assert refused.status_code == 404
        assert refused.headers["content-type"].startswith("text/html")


class TestTaskComments:
    async def test_a_task_page_shows_only_client_comments_and_takes_the_clients(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Cal Manager")
        x = await client_of(gateway, agency, manager, "Cato")
        for text, visibility in (("internal: they pay late", "internal"), ("Ready", "client")):
            await ok(
                await gateway.post(
                    f"/v1/tasks/{x.visible_task_id}/comments",
                    json={"body": text, "visibility": visibility},
                    headers=manager.headers,
                ),
                201,
            )
        task_page = f"/projects/{x.project_id}/tasks/{x.visible_task_id}"

        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, x.user.email)
            project = await visitor.get(f"/projects/{x.project_id}")
            page = await visitor.get(task_page)
            added = await visitor.post(f"{task_page}/comments", {"body": "Thanks, looks good"})
            after = await visitor.get(task_page)
            internal_task = await visitor.get(
                f"/projects/{x.project_id}/tasks/{x.internal_task_id}"
            )

        assert f'href="/portal/{agency.slug}{task_page}"' in project.text
        assert page.status_code == 200
        assert "Ready" in page.text
        assert "they pay late" not in page.text
        assert added.status_code == 303
        assert "You:</strong> Thanks, looks good" in after.text
        assert "Comment added." in after.text
        assert internal_task.status_code == 404
        comments = await ok(
            await gateway.get(f"/v1/tasks/{x.visible_task_id}/comments", headers=manager.headers)
        )
        mine = [c for c in comments["items"] if c["body"] == "Thanks, looks good"]
        assert [c["visibility"] for c in mine] == ["client"]
