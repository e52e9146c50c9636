"""A client user's whole way through the portal's pages in a real headless Chromium, through
the gateway against the whole platform: asks for a sign-in link, opens it from the email in
mailpit, lands on the dashboard, approves a deliverable, sends feedback, pays an invoice (the
Pay button leads to Stripe Checkout's page, which stripe-mock's URL names but no browser can
open here; Stripe's signed webhook then reports the payment) and sees it paid with its
receipt. Screenshots of each page go under .run/screenshots/portal/."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.browser import browser_available, chromium
from agencyos.testing.factories import AgencySession
from agencyos.testing.inbox import join, link_to, one_email
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.stripe_webhooks import signed_request, stripe_event, stripe_id, stripe_object

from .portal_support import client_of, ok, sent_invoice

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not browser_available(), reason="needs chromium (make tools)"),
]

CHECKOUT = r"^https://checkout\.stripe\.com/"


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def deliver_payment(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, invoice: dict[str, str]
) -> None:
    """Stripe's signed `checkout.session.completed` for the invoice's current Checkout page."""
    session_id = await fetch_value(
        platform.infra,
        platform.database("billing"),
        "SELECT stripe_checkout_session_id FROM invoices WHERE id = $1",
        uuid.UUID(invoice["id"]),
        tenant_id=agency.agency_id,
    )
    amount = int(invoice["total_cents"])
    session = await stripe_object(platform.stripe_api_base, "checkout/sessions")
    session.update(
        id=str(session_id),
        mode="payment",
        status="complete",
        payment_status="paid",
        payment_intent=stripe_id("pi"),
        amount_subtotal=amount,
        amount_total=amount,
        currency=str(invoice["currency"]).lower(),
        client_reference_id=invoice["id"],
        metadata={"invoice_id": invoice["id"], "tenant_id": str(agency.agency_id)},
    )
    body, headers = signed_request(
        stripe_event("checkout.session.completed", session), platform.stripe_webhook_secret
    )
    await ok(await gateway.post("/v1/webhooks/stripe", content=body, headers=headers))


class TestBrowserJourney:
    async def test_a_client_signs_in_by_email_decides_sends_feedback_and_pays_in_chromium(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        await ok(
            await gateway.patch(
                "/v1/agency", json={"brand_color": "#ffd400"}, headers=agency.headers
            )
        )
        manager = await join(gateway, agency, "manager", name="Mona Manager")
        x = await client_of(gateway, agency, manager, "Bea")
        invoice = await sent_invoice(gateway, agency, x.client_id, 42_000)
        base = f"{platform.gateway_url}/portal/{agency.slug}"

        with chromium("portal") as browser:
            # Signed out, the dashboard sends the browser to sign in.
            browser.get(f"{base}/")
            browser.wait_for_url(r"/sign-in$")
            browser.screenshot("sign-in")
            browser.type("#email", x.user.email)
            browser.click("#send-link")
            browser.wait_for_text("a sign-in link is on its way")
            browser.screenshot("link-sent")

            message = await one_email(mailpit, x.user.email, "sign-in link")
            link = link_to(platform, message, f"/portal/{agency.slug}/sign-in/link?token=")
            browser.get(platform.gateway_url + link)
            browser.find("#sign-in")
            browser.screenshot("sign-in-link")
            browser.click("#sign-in")

            # The dashboard: the deliverable awaiting a decision, the invoice due, the project.
            browser.wait_for_text("Bea mockups", "#awaiting")
            assert browser.url == f"{base}/"
            assert "420.00" in browser.text()
            assert "Bea launch" in browser.text()  # the next milestone
            # htmx came from the portal's own origin and runs under its CSP; nothing broke it.
            assert browser.script("return typeof htmx") == "object"
            assert browser.console_errors() == []
            browser.screenshot("dashboard")

            browser.click(f'a[href="/portal/{agency.slug}/projects/{x.project_id}"]')
            browser.wait_for_text("Bea homepage")
            assert "margin review" not in browser.text()  # the internal task
            browser.screenshot("project")

            browser.click(f"#deliverable-{x.deliverable_id} a")
            browser.find("#approve")
            browser.screenshot("deliverable-review")
            browser.type("#approve-comment", "Looks great")
            browser.click("#approve")
            browser.wait_for_text("approved", "#deliverable-status")
            browser.screenshot("deliverable-approved")

            browser.get(f"{base}/projects/{x.project_id}/feedback")
            browser.type("#message", "Please make the logo bigger\nIt is hard to see on phones.")
            browser.click("#send-feedback")
            browser.wait_for_text("your feedback is now a task")
            browser.wait_for_text("Please make the logo bigger")
            browser.screenshot("feedback-sent")

            # Invoices: the list, the invoice, Pay.
            browser.get(f"{base}/invoices")
            browser.wait_for_text(invoice["number"])
            browser.screenshot("invoices")
            browser.click(f"#invoice-{invoice['id']} a")
            browser.find("#pay")
            browser.screenshot("invoice-open")
            browser.document_requests()  # what came before
            browser.click("#pay")
            # Off to Stripe's Checkout page (unreachable from here: only its address counts).
            checkout_url = browser.wait_for_document_request(CHECKOUT)
            assert "/c/pay/" in checkout_url or "cs_" in checkout_url, checkout_url

            await deliver_payment(platform, gateway, agency, invoice)

            browser.get(f"{base}/invoices/{invoice['id']}?paid=1")
            browser.wait_for_text("paid", "#invoice-status")
            assert "stripe" in browser.text("#receipts")
            assert "420.00" in browser.text("#receipts")
            assert browser.driver.find_elements("css selector", "#pay") == []
            browser.screenshot("invoice-paid")

        # What the browser did, as the agency sees it.
        deliverables = await ok(
            await gateway.get(f"/v1/projects/{x.project_id}/deliverables", headers=manager.headers)
        )
        assert {d["id"]: d["status"] for d in deliverables["items"]}[x.deliverable_id] == (
            "approved"
        )
        tasks = await ok(
            await gateway.get(f"/v1/projects/{x.project_id}/tasks", headers=manager.headers)
        )
        assert "Please make the logo bigger" in [t["title"] for t in tasks["items"]]

    async def test_the_pages_fit_a_phone(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        manager = await join(gateway, agency, "manager", name="Pia Manager")
        x = await client_of(gateway, agency, manager, "Phone")
        base = f"{platform.gateway_url}/portal/{agency.slug}"

        with chromium("portal-phone", mobile=True) as browser:
            browser.get(f"{base}/sign-in")
            browser.type("#email", x.user.email)
            browser.click("#send-link")
            browser.wait_for_text("a sign-in link is on its way")
            message = await one_email(mailpit, x.user.email, "sign-in link")
            browser.get(platform.gateway_url + link_to(platform, message, "/sign-in/link?token="))
            browser.click("#sign-in")
            browser.wait_for_text("Phone mockups")
            # Nothing wider than the screen: no sideways scrolling on a phone.
            widths = browser.script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert isinstance(widths, list)
            assert widths[0] <= widths[1]
            browser.screenshot("dashboard")
            browser.get(f"{base}/projects/{x.project_id}")
            browser.wait_for_text("Phone homepage")
            widths = browser.script(
                "return [document.documentElement.scrollWidth, window.innerWidth]"
            )
            assert isinstance(widths, list)
            assert widths[0] <= widths[1]
            browser.screenshot("project")
