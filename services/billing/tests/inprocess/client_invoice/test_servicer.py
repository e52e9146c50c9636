"""billing's gRPC for the client portal, as the portal calls it (the typed BillingClient):
a client user sees the sent invoices of its own client only, each as the client's document;
drafts, void invoices, another client's and another agency's answer NOT_FOUND like unknown
ids; nobody but a client user may call."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import httpx
import pytest

from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied
from agencyos.common.peers.billing import AmountDue, InvoiceFilter, InvoiceLine
from agencyos.common.rpc import call
from agencyos.protos.billing.v1 import billing_pb2
from agencyos.testing.invoicing import pdf_text

from .conftest import Scene


async def pay_by_hand(
    billing: httpx.AsyncClient, scene: Scene, invoice_id: str, cents: int
) -> None:
    response = await billing.post(
        f"/v1/invoices/{invoice_id}/payments",
        json={"amount_cents": cents, "method": "bank_transfer", "reference": "SEPA 77"},
        headers=scene.x.books.agency.headers,
    )
    assert response.status_code == 201, response.text


class TestListing:
    async def test_a_client_user_lists_only_its_own_clients_sent_invoices(
        self, scene: Scene
    ) -> None:
        books = scene.x.books
        await books.manual_draft(7_000)  # a draft of X: never shown
        voided = await books.sent((await books.manual_draft(8_000))["id"])
        response = await books.gateway.post(
            f"/v1/invoices/{voided['id']}/void", json={}, headers=books.agency.headers
        )
        assert response.status_code == 200, response.text

        found = await scene.billing.client_invoices(await scene.principal(scene.x.user))

        assert [str(i.id) for i in found.invoices] == [scene.x.invoice["id"]]
        [invoice] = found.invoices
        assert invoice.number == scene.x.invoice["number"]
        assert (invoice.status, invoice.currency) == ("sent", "EUR")
        assert (invoice.total_cents, invoice.amount_paid_cents, invoice.amount_due_cents) == (
            15_000,
            0,
            15_000,
        )
        assert invoice.issue_date is not None
        assert invoice.due_date is not None
        assert (invoice.overdue, invoice.payable) == (False, True)
        assert invoice.lines == ()
        assert invoice.payments == ()
        assert found.open_due == [AmountDue("EUR", 15_000, 1)]

    async def test_the_filter_picks_open_or_paid_and_the_total_due_stays_over_open_ones(
        self, billing: httpx.AsyncClient, scene: Scene
    ) -> None:
        paid = await scene.x.books.sent((await scene.x.books.manual_draft(3_000))["id"])
        await pay_by_hand(billing, scene, paid["id"], 3_000)
        who = await scene.principal(scene.x.user)

        open_ones = await scene.billing.client_invoices(who, InvoiceFilter.OPEN)
        paid_ones = await scene.billing.client_invoices(who, InvoiceFilter.PAID)
        every = await scene.billing.client_invoices(who, InvoiceFilter.ALL)

        assert [str(i.id) for i in open_ones.invoices] == [scene.x.invoice["id"]]
        assert [(str(i.id), i.status, i.amount_due_cents) for i in paid_ones.invoices] == [
            (paid["id"], "paid", 0)
        ]
        assert {str(i.id) for i in every.invoices} == {scene.x.invoice["id"], paid["id"]}
        for answer in (open_ones, paid_ones, every):
            assert answer.open_due == [AmountDue("EUR", 15_000, 1)]

    async def test_an_unknown_filter_is_invalid(self, scene: Scene) -> None:

        with pytest.raises(InvalidInput):
            await call(
                scene.billing.stub.ListClientInvoices,
                billing_pb2.ListClientInvoicesRequest(status="draft"),
                principal=await scene.principal(scene.x.user),
                timeout=10,
            )

    async def test_an_invoice_past_its_due_date_is_overdue(
        self, scene: Scene, seed_invoice: object
    ) -> None:
        late = await seed_invoice(  # type: ignore[operator]
            scene.x.books.agency,
            client_id=scene.x.books.client_id,
            total_cents=4_000,
            issue_date=date.today() - timedelta(days=40),
            due_date=date.today() - timedelta(days=10),
        )

        found = await scene.billing.client_invoices(await scene.principal(scene.x.user))

        [invoice] = [i for i in found.invoices if i.id == late]
        assert (invoice.status, invoice.overdue, invoice.payable) == ("sent", True, True)
        assert found.open_due == [AmountDue("EUR", 19_000, 2)]


class TestOneInvoice:
    async def test_the_client_gets_its_document_lines_and_payments(
        self, billing: httpx.AsyncClient, scene: Scene
    ) -> None:
        await pay_by_hand(billing, scene, scene.x.invoice["id"], 4_000)

        invoice = await scene.billing.client_invoice(
            await scene.principal(scene.x.user), uuid.UUID(scene.x.invoice["id"])
        )

        assert (invoice.status, invoice.amount_paid_cents, invoice.amount_due_cents) == (
            "partially_paid",
            4_000,
            11_000,
        )
        assert invoice.payable
        assert invoice.lines == (
            InvoiceLine("Item 10000", Decimal("1"), 10_000, 10_000, 0, 0),
            InvoiceLine("Hosting, per month", Decimal("2"), 2_500, 5_000, 0, 0),
        )
        [payment] = invoice.payments
        assert (payment.amount_cents, payment.currency, payment.method) == (
            4_000,
            "EUR",
            "bank_transfer",
        )
        assert invoice.bill_to_name
        assert invoice.issuer_name

    async def test_the_pdf_is_the_invoices_document(self, scene: Scene) -> None:
        pdf = await scene.billing.client_invoice_pdf(
            await scene.principal(scene.x.user), uuid.UUID(scene.x.invoice["id"])
        )

        assert pdf.content.startswith(b"%PDF")
        assert pdf.filename == f"invoice-{scene.x.invoice['number']}.pdf"
        assert scene.x.invoice["number"].encode() in pdf_text(pdf.content)


class TestIsolation:
    async def test_another_clients_invoice_is_not_found(self, scene: Scene) -> None:
        x_user = await scene.principal(scene.x.user)
        y_invoice = uuid.UUID(scene.y.invoice["id"])

        with pytest.raises(NotFound):
            await scene.billing.client_invoice(x_user, y_invoice)
        with pytest.raises(NotFound):
            await scene.billing.client_invoice_pdf(x_user, y_invoice)
        with pytest.raises(NotFound):
            await scene.billing.create_checkout(x_user, y_invoice)
        listed = await scene.billing.client_invoices(x_user)
        assert y_invoice not in {i.id for i in listed.invoices}

    async def test_another_agencys_invoice_is_not_found(self, scene: Scene) -> None:
        x_user = await scene.principal(scene.x.user)
        z_invoice = uuid.UUID(scene.z.invoice["id"])

        with pytest.raises(NotFound):
            await scene.billing.client_invoice(x_user, z_invoice)
        with pytest.raises(NotFound):
            await scene.billing.client_invoice_pdf(x_user, z_invoice)
        # and Z's own user, in its agency, sees its own invoice only
        z_listed = await scene.billing.client_invoices(await scene.principal(scene.z.user))
        assert [str(i.id) for i in z_listed.invoices] == [scene.z.invoice["id"]]

    async def test_a_draft_and_a_void_invoice_are_not_found(self, scene: Scene) -> None:
        books = scene.x.books
        draft = await books.manual_draft(7_000)
        voided = await books.sent((await books.manual_draft(8_000))["id"])
        response = await books.gateway.post(
            f"/v1/invoices/{voided['id']}/void", json={}, headers=books.agency.headers
        )
        assert response.status_code == 200, response.text
        x_user = await scene.principal(scene.x.user)

        for invoice_id in (draft["id"], voided["id"]):
            with pytest.raises(NotFound):
                await scene.billing.client_invoice(x_user, uuid.UUID(invoice_id))
            with pytest.raises(NotFound):
                await scene.billing.client_invoice_pdf(x_user, uuid.UUID(invoice_id))
            with pytest.raises(NotFound):
                await scene.billing.create_checkout(x_user, uuid.UUID(invoice_id))

    async def test_agency_people_without_a_client_are_refused(self, scene: Scene) -> None:
        who = await scene.principal(scene.tenant.caller("manager"))
        with pytest.raises(PermissionDenied):
            await scene.billing.client_invoices(who)

    async def test_an_unknown_id_is_not_found(self, scene: Scene) -> None:
        with pytest.raises(NotFound):
            await scene.billing.client_invoice(await scene.principal(scene.x.user), uuid.uuid4())

    @pytest.mark.parametrize("role", ["owner", "manager", "member"])
    async def test_agency_people_are_refused_even_with_a_client_in_their_token(
        self, scene: Scene, role: str
    ) -> None:
        who = await scene.principal(scene.tenant.caller(role, client_id=scene.x.books.client_id))
        invoice_id = uuid.UUID(scene.x.invoice["id"])

        with pytest.raises(PermissionDenied):
            await scene.billing.client_invoices(who)
        with pytest.raises(PermissionDenied):
            await scene.billing.client_invoice(who, invoice_id)
        with pytest.raises(PermissionDenied):
            await scene.billing.client_invoice_pdf(who, invoice_id)
        with pytest.raises(PermissionDenied):
            await scene.billing.create_checkout(who, invoice_id)
