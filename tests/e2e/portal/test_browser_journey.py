"""A client user's whole way through the portal's pages in a real headless Chromium, through
the gateway against the whole platform: asks for a sign-in link, opens it from the email in
mailpit, lands on the dashboard, opens the project, approves a deliverable, sends feedback.
Screenshots of each page go under .run/screenshots/portal/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.browser import browser_available, chromium
from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.inbox import join, link_to, one_email
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not browser_available(), reason="needs chromium (make tools)"),
]


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def submitted_deliverable(
    gateway: httpx.AsyncClient, who: AgencySession, project_id: str, title: str
) -> str:
    created = await gateway.post(
        f"/v1/projects/{project_id}/deliverables", json={"title": title}, headers=who.headers
    )
    assert created.status_code == 201, created.text
    deliverable_id: str = created.json()["id"]
    sent = await gateway.post(f"/v1/deliverables/{deliverable_id}/submit", headers=who.headers)
    assert sent.status_code == 200, sent.text
    return deliverable_id


class TestBrowserJourney:
    async def test_a_client_signs_in_by_email_approves_and_sends_feedback_in_chromium(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        branded = await gateway.patch(
            "/v1/agency", json={"brand_color": "#ffd400"}, headers=agency.headers
        )
        assert branded.status_code == 200, branded.text
        manager = await join(gateway, agency, "manager", name="Mona Manager")
        client = await create_client(gateway, agency, company_name="Browser Corp")
        user = await join(gateway, agency, "client", name="Bea Client", client_id=client["id"])
        project = await new_project(
            gateway, agency, manager, name=f"Website {uuid.uuid4().hex[:4]}", client_id=client["id"]
        )
        await new_task(gateway, manager, project["id"], title="Homepage", visible_to_client=True)
        await new_task(gateway, manager, project["id"], title="Margin review (internal)")
        deliverable_id = await submitted_deliverable(
            gateway, manager, project["id"], "Homepage mockups"
        )
        base = f"{platform.gateway_url}/portal/{agency.slug}"

        with chromium("portal") as browser:
            # Signed out, the dashboard sends the browser to sign in.
            browser.get(f"{base}/")
            browser.wait_for_url(r"/sign-in$")
            browser.screenshot("sign-in")
            browser.type("#email", user.email)
            browser.click("#send-link")
            browser.wait_for_text("a sign-in link is on its way")
            browser.screenshot("link-sent")

            message = await one_email(mailpit, user.email, "sign-in link")
            link = link_to(platform, message, f"/portal/{agency.slug}/sign-in/link?token=")
            browser.get(platform.gateway_url + link)
            browser.find("#sign-in")
            browser.screenshot("sign-in-link")
            browser.click("#sign-in")

            # The dashboard: the client's project with its progress; no internal task.
            browser.wait_for_text(project["name"])
            assert browser.url == f"{base}/"
            # htmx came from the portal's own origin and runs under its CSP; nothing broke it.
            assert browser.script("return typeof htmx") == "object"
            assert browser.console_errors() == []
            browser.screenshot("dashboard")

            browser.click(f'a[href="/portal/{agency.slug}/projects/{project["id"]}"]')
            browser.wait_for_text("Homepage mockups")
            assert "Margin review" not in browser.text()
            browser.screenshot("project")

            browser.click(f"#deliverable-{deliverable_id} a")
            browser.find("#approve")
            browser.screenshot("deliverable-review")
            browser.type("#approve-comment", "Looks great")
            browser.click("#approve")
            browser.wait_for_text("approved", "#deliverable-status")
            browser.screenshot("deliverable-approved")

            browser.get(f"{base}/projects/{project['id']}/feedback")
            browser.type("#message", "Please make the logo bigger\nIt is hard to see on phones.")
            browser.click("#send-feedback")
            browser.wait_for_text("your feedback is now a task")
            browser.wait_for_text("Please make the logo bigger")
            browser.screenshot("feedback-sent")

        # What the browser did, as the agency sees it.
        decided = await gateway.get(
            f"/v1/projects/{project['id']}/deliverables", headers=manager.headers
        )
        assert decided.status_code == 200, decided.text
        statuses = {d["id"]: d["status"] for d in decided.json()["items"]}
        assert statuses[deliverable_id] == "approved"
        tasks = await gateway.get(f"/v1/projects/{project['id']}/tasks", headers=manager.headers)
        assert tasks.status_code == 200, tasks.text
        assert "Please make the logo bigger" in [t["title"] for t in tasks.json()["items"]]
