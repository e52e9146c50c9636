"""The portal's invoice routes against billing's typed stand-in (which rules, as billing does,
that a client user reaches only its own client's sent invoices): the list with what is due,
one invoice as the client's document, the PDF, and Pay; agency people refused, another
client's or agency's invoice, a draft and a void one 404."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.billing_standin import BillingStandIn
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import InProcess

from ..conftest import Scene


@dataclass(frozen=True)
class Invoices:
    x: uuid.UUID  # X's sent invoice: 2 x 5,000 + 1 x 2,500
    x_paid: uuid.UUID
    x_draft: uuid.UUID
    x_void: uuid.UUID
    y: uuid.UUID  # client Y of the same agency
    elsewhere: uuid.UUID  # a client of another agency


@pytest.fixture
def billing(in_process: InProcess) -> BillingStandIn:
    standin = in_process.standins.billing
    standin.checkouts.clear()
    return standin


@pytest.fixture
def invoices(billing: BillingStandIn, scene: Scene) -> Invoices:
    agency = scene.agency.id
    x = scene.x.client_id
    return Invoices(
        x=billing.add_invoice(
            agency,
            x,
            number="INV-0101",
            lines=(("Design work", "2", 5_000), ("Hosting", "1", 2_500)),
            issuer_name="Acme Studio",
            bill_to_name="X Ltd",
        ),
        x_paid=billing.add_invoice(
            agency, x, number="INV-0100", lines=(("Logo", "1", 3_000),), amount_paid_cents=3_000
        ),
        x_draft=billing.add_invoice(agency, x, status="draft"),
        x_void=billing.add_invoice(agency, x, status="void"),
        y=billing.add_invoice(agency, scene.y.client_id, number="INV-0102"),
        elsewhere=billing.add_invoice(
            scene.elsewhere.user.agency_id, scene.elsewhere.client_id, number="INV-0001"
        ),
    )


ROUTES = [
    ("GET", "/v1/portal/invoices/{id}"),
    ("GET", "/v1/portal/invoices/{id}/pdf"),
    ("POST", "/v1/portal/invoices/{id}/pay"),
]
ROUTE_IDS = [f"{m} {p}" for m, p in ROUTES]


async def call(
    portal: httpx.AsyncClient, route: tuple[str, str], invoice_id: uuid.UUID, headers: Any
) -> httpx.Response:
    method, path = route
    return await portal.request(method, path.format(id=invoice_id), headers=headers)


class TestListing:
    async def test_the_list_holds_the_clients_sent_invoices_and_what_is_due(
        self, portal: httpx.AsyncClient, scene: Scene, invoices: Invoices
    ) -> None:
        response = await portal.get("/v1/portal/invoices", headers=scene.x.user.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert [i["id"] for i in body["items"]] == [str(invoices.x), str(invoices.x_paid)]
        first = body["items"][0]
        assert first["number"] == "INV-0101"
        assert (first["status"], first["currency"]) == ("sent", "USD")
        assert (first["total_cents"], first["amount_paid_cents"], first["amount_due_cents"]) == (
            12_500,
            0,
            12_500,
        )
        assert (first["overdue"], first["payable"]) == (False, True)
        assert "lines" not in first
        assert body["open_due"] == [
            {"currency": "USD", "amount_due_cents": 12_500, "invoice_count": 1}
        ]

    @pytest.mark.parametrize(
        ("status", "expected"), [("open", ["x"]), ("paid", ["x_paid"]), ("all", ["x", "x_paid"])]
    )
    async def test_the_status_filter(
        self,
        portal: httpx.AsyncClient,
        scene: Scene,
        invoices: Invoices,
        status: str,
        expected: list[str],
    ) -> None:
        response = await portal.get(
            "/v1/portal/invoices", params={"status": status}, headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        assert [i["id"] for i in response.json()["items"]] == [
            str(getattr(invoices, name)) for name in expected
        ]

    async def test_an_unknown_filter_is_422(
        self, portal: httpx.AsyncClient, scene: Scene, invoices: Invoices
    ) -> None:
        response = await portal.get(
            "/v1/portal/invoices", params={"status": "draft"}, headers=scene.x.user.headers
        )

        assert response.status_code == 422, response.text

    async def test_an_overdue_invoice_says_so(
        self, portal: httpx.AsyncClient, billing: BillingStandIn, scene: Scene
    ) -> None:
        late = billing.add_invoice(
            scene.agency.id, scene.x.client_id, due_date=date.today() - timedelta(days=3)
        )

        response = await portal.get(
            "/v1/portal/invoices", params={"status": "open"}, headers=scene.x.user.headers
        )

        [item] = [i for i in response.json()["items"] if i["id"] == str(late)]
        assert (item["status"], item["overdue"]) == ("overdue", True)


class TestOneInvoice:
    async def test_the_invoice_with_its_lines_and_payments(
        self, portal: httpx.AsyncClient, billing: BillingStandIn, scene: Scene, invoices: Invoices
    ) -> None:
        billing.record_payment(scene.agency.id, invoices.x, 2_500, method="bank_transfer")

        response = await portal.get(
            f"/v1/portal/invoices/{invoices.x}", headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["amount_paid_cents"], body["amount_due_cents"]) == (
            "partially_paid",
            2_500,
            10_000,
        )
        assert [
            (
                line["description"],
                line["quantity"],
                line["unit_price_cents"],
                line["amount_cents"],
            )
            for line in body["lines"]
        ] == [("Design work", "2", 5_000, 10_000), ("Hosting", "1", 2_500, 2_500)]
        assert [(p["amount_cents"], p["method"]) for p in body["payments"]] == [
            (2_500, "bank_transfer")
        ]
        assert (body["issuer_name"], body["bill_to_name"]) == ("Acme Studio", "X Ltd")

    async def test_the_pdf_is_a_download(
        self, portal: httpx.AsyncClient, scene: Scene, invoices: Invoices
    ) -> None:
        response = await portal.get(
            f"/v1/portal/invoices/{invoices.x}/pdf", headers=scene.x.user.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert response.headers["content-disposition"] == (
            'attachment; filename="invoice-INV-0101.pdf"'
        )
        assert response.content.startswith(b"%PDF")
        assert b"INV-0101" in response.content


class TestPay:
    async def test_pay_answers_a_fresh_checkout_url_for_what_is_owed(
        self, portal: httpx.AsyncClient, billing: BillingStandIn, scene: Scene, invoices: Invoices
    ) -> None:
        billing.record_payment(scene.agency.id, invoices.x, 2_500)

        first = await portal.post(
            f"/v1/portal/invoices/{invoices.x}/pay", headers=scene.x.user.headers
        )
        second = await portal.post(
            f"/v1/portal/invoices/{invoices.x}/pay", headers=scene.x.user.headers
        )

        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["amount_cents"], body["currency"]) == (10_000, "USD")
        assert body["url"].startswith("https://checkout.stripe.com/")
        assert second.json()["url"] != body["url"]
        assert [(who, invoice) for who, invoice, _ in billing.checkouts] == [
            (scene.x.user.user_id, invoices.x),
            (scene.x.user.user_id, invoices.x),
        ]

    async def test_a_paid_invoice_is_412(
        self, portal: httpx.AsyncClient, billing: BillingStandIn, scene: Scene, invoices: Invoices
    ) -> None:
        response = await portal.post(
            f"/v1/portal/invoices/{invoices.x_paid}/pay", headers=scene.x.user.headers
        )

        assert_problem(response, 412)
        assert billing.checkouts == []


class TestAccess:
    @pytest.mark.parametrize("role", ["owner", "admin", "manager", "member"])
    @pytest.mark.parametrize(
        "route", [("GET", "/v1/portal/invoices"), *ROUTES], ids=["GET list", *ROUTE_IDS]
    )
    async def test_agency_people_are_refused(
        self,
        portal: httpx.AsyncClient,
        billing: BillingStandIn,
        scene: Scene,
        invoices: Invoices,
        role: str,
        route: tuple[str, str],
    ) -> None:
        caller = scene.agency.owner if role == "owner" else scene.agency.caller(role)

        response = await call(portal, route, invoices.x, caller.headers)

        assert_problem(response, 403)
        assert "client users only" in response.json()["detail"]
        assert billing.checkouts == []

    @pytest.mark.parametrize("whose", ["y", "elsewhere", "x_draft", "x_void"])
    @pytest.mark.parametrize("route", ROUTES, ids=ROUTE_IDS)
    async def test_invoices_the_client_may_not_see_are_404(
        self,
        portal: httpx.AsyncClient,
        billing: BillingStandIn,
        scene: Scene,
        invoices: Invoices,
        whose: str,
        route: tuple[str, str],
    ) -> None:
        response = await call(portal, route, getattr(invoices, whose), scene.x.user.headers)

        assert_problem(response, 404)
        assert billing.checkouts == []

    async def test_a_malformed_id_is_422(
        self, portal: httpx.AsyncClient, scene: Scene, invoices: Invoices
    ) -> None:
        response = await portal.get("/v1/portal/invoices/not-an-id", headers=scene.x.user.headers)

        assert response.status_code == 422, response.text
