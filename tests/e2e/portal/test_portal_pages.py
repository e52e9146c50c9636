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
