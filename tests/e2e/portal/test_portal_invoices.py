"""The portal's invoices through the gateway against the real billing service (its gRPC server
behind the portal) and Stripe's stand-in: a client user of client X lists X's invoice,
downloads its PDF, pays — the Checkout URL comes from stripe-mock — and once Stripe's signed
webhook for that page reaches billing, the portal shows the invoice paid. Y's user and another
agency's client user get 404 for X's invoice; an agency member's token is refused."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_problem
from agencyos.testing.inbox import join
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.stripe_webhooks import signed_request, stripe_event, stripe_id, stripe_object

pytestmark = pytest.mark.e2e


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def sent_invoice(
    gateway: httpx.AsyncClient, owner: AgencySession, client_id: str, *prices: int
) -> dict[str, Any]:
    """An invoice to the client with one manual line per price, sent."""
    draft = await ok(
        await gateway.post(
            "/v1/invoices", json={"client_id": client_id, "include": []}, headers=owner.headers
        ),
        201,
    )
    for price in prices:
        await ok(
            await gateway.post(
                f"/v1/invoices/{draft['id']}/lines",
                json={"description": f"Design {price}", "quantity": "1", "unit_price_cents": price},
                headers=owner.headers,
            ),
            201,
        )
    sent: dict[str, Any] = await ok(
        await gateway.post(f"/v1/invoices/{draft['id']}/send", headers=owner.headers)
    )
    return sent


async def client_user(
    gateway: httpx.AsyncClient, owner: AgencySession, name: str
) -> tuple[str, AgencySession]:
    client = await create_client(gateway, owner, company_name=f"{name} Corp", currency="EUR")
    user = await join(gateway, owner, "client", name=f"{name} Client", client_id=client["id"])
    return client["id"], user


class TestPortalInvoices:
    async def test_a_client_user_lists_downloads_and_pays_its_invoice(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        x_client, x_user = await client_user(gateway, agency, "Xeno")
        y_client, y_user = await client_user(gateway, agency, "Yara")
        _, z_user = await client_user(gateway, other_agency, "Zeta")
        invoice = await sent_invoice(gateway, agency, x_client, 40_000, 2_000)
        await sent_invoice(gateway, agency, y_client, 9_900)
        xh = x_user.headers

        # The list: X's invoice only, with what is due.
        listed = await ok(await gateway.get("/v1/portal/invoices", headers=xh))
        assert [(i["id"], i["number"], i["status"]) for i in listed["items"]] == [
            (invoice["id"], invoice["number"], "sent")
        ]
        currency = invoice["currency"]
        assert listed["open_due"] == [
            {"currency": currency, "amount_due_cents": 42_000, "invoice_count": 1}
        ]

        # The invoice and its PDF.
        detail = await ok(await gateway.get(f"/v1/portal/invoices/{invoice['id']}", headers=xh))
        assert [(line["description"], line["amount_cents"]) for line in detail["lines"]] == [
            ("Design 40000", 40_000),
            ("Design 2000", 2_000),
        ]
        assert "time_entry_ids" not in str(detail)
        pdf = await gateway.get(f"/v1/portal/invoices/{invoice['id']}/pdf", headers=xh)
        assert pdf.status_code == 200, pdf.text
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.headers["content-disposition"] == (
            f'attachment; filename="invoice-{invoice["number"]}.pdf"'
        )
        assert pdf.content.startswith(b"%PDF")

        # Pay: a fresh Checkout page from Stripe (stripe-mock) replaces the invoice's page.
        async def current_session() -> str:
            value = await fetch_value(
                platform.infra,
                platform.database("billing"),
                "SELECT stripe_checkout_session_id FROM invoices WHERE id = $1",
                uuid.UUID(invoice["id"]),
                tenant_id=agency.agency_id,
            )
            return str(value)

        before = await current_session()
        pay = await gateway.post(f"/v1/portal/invoices/{invoice['id']}/pay", headers=xh)
        checkout = await ok(pay)
        assert checkout["url"].startswith("https://checkout.stripe.com/")
        assert (checkout["amount_cents"], checkout["currency"]) == (42_000, currency)
        session_id = await current_session()
        assert session_id != before

        # Stripe reports the payment on that page, signed with the webhook secret.
        session = await stripe_object(platform.stripe_api_base, "checkout/sessions")
        session.update(
            id=session_id,
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=stripe_id("pi"),
            amount_subtotal=42_000,
            amount_total=42_000,
            currency=currency.lower(),
            client_reference_id=invoice["id"],
            metadata={"invoice_id": invoice["id"], "tenant_id": str(agency.agency_id)},
        )
        body, headers = signed_request(
            stripe_event("checkout.session.completed", session), platform.stripe_webhook_secret
        )
        delivered = await gateway.post("/v1/webhooks/stripe", content=body, headers=headers)
        assert delivered.status_code == 200, delivered.text

        paid = await ok(await gateway.get(f"/v1/portal/invoices/{invoice['id']}", headers=xh))
        assert (paid["status"], paid["amount_due_cents"], paid["payable"]) == ("paid", 0, False)
        assert [p["method"] for p in paid["payments"]] == ["stripe"]
        listed = await ok(await gateway.get("/v1/portal/invoices?status=paid", headers=xh))
        assert [i["id"] for i in listed["items"]] == [invoice["id"]]
        assert_problem(
            await gateway.post(f"/v1/portal/invoices/{invoice['id']}/pay", headers=xh), 412
        )

        # Y's user and another agency's client user reach nothing of X's invoice.
        for stranger in (y_user, z_user):
            for method, path in (
                ("GET", f"/v1/portal/invoices/{invoice['id']}"),
                ("GET", f"/v1/portal/invoices/{invoice['id']}/pdf"),
                ("POST", f"/v1/portal/invoices/{invoice['id']}/pay"),
            ):
                assert_problem(await gateway.request(method, path, headers=stranger.headers), 404)
            theirs = await ok(await gateway.get("/v1/portal/invoices", headers=stranger.headers))
            assert invoice["id"] not in [i["id"] for i in theirs["items"]]

        # The agency's own people use billing's API, not the portal's.
        assert_problem(await gateway.get("/v1/portal/invoices", headers=agency.headers), 403)
