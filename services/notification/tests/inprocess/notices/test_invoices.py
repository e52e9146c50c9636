"""Invoice notices (sent, paid, overdue, payment failed) tell the agency's staff who read
invoices, and nobody else: not members without the permission, not client users, not the
suspended, not another agency. The client's own emails are queued beside them."""

from __future__ import annotations

import uuid
from datetime import date

from agencyos.common.db import utcnow
from agencyos.common.events import (
    BillTo,
    CloudEvent,
    InvoiceOverdue,
    InvoicePaid,
    InvoicePaymentFailed,
    InvoiceSent,
)
from agencyos.testing.inprocess import InProcess
from agencyos.testing.notices import Cast, deliver, emailed, event_of, join, notices_of, told

BILL_TO = BillTo(client_name="Acme", contact_name="Wile E.", email="wile@acme.example")


def sent(people: Cast) -> CloudEvent:
    return event_of(
        InvoiceSent(
            invoice_id=uuid.uuid4(),
            client_id=people.client_id,
            number="INV-0007",
            total_cents=120_000,
            currency="EUR",
            due_date=date(2026, 12, 31),
            bill_to=BILL_TO,
        ),
        people.agency.id,
    )


class TestInvoiceNotices:
    async def test_a_sent_invoice_tells_the_invoice_readers_only(
        self, in_process: InProcess, people: Cast
    ) -> None:
        reader = await join(in_process, people.agency, "member", permissions=["invoices.read"])
        event = sent(people)

        await deliver(in_process, event)

        told_ids = await told(in_process, event, "invoice.sent")
        assert told_ids == {people.owner.user_id, people.manager.user_id, reader.user_id}
        [note] = await notices_of(in_process, people.manager, "invoice.sent")
        assert note["title"] == "Invoice INV-0007 was sent to Acme"
        assert note["link"] == f"/v1/invoices/{event.data['invoice_id']}"

    async def test_the_client_still_gets_its_invoice_email_beside_the_notices(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = sent(people)

        await deliver(in_process, event)

        templates = {(e["to_email"], e["template"]) for e in await emailed(in_process, event)}
        assert ("wile@acme.example", "invoice_sent") in templates

    async def test_paid_overdue_and_failed_tell_the_readers(
        self, in_process: InProcess, people: Cast
    ) -> None:
        invoice_id = uuid.uuid4()
        paid = event_of(
            InvoicePaid(
                invoice_id=invoice_id,
                client_id=people.client_id,
                number="INV-0007",
                total_cents=120_000,
                amount_cents=120_000,
                currency="EUR",
                paid_at=utcnow(),
            ),
            people.agency.id,
        )
        overdue = event_of(
            InvoiceOverdue(
                invoice_id=invoice_id,
                client_id=people.client_id,
                number="INV-0007",
                total_cents=120_000,
                amount_due_cents=120_000,
                currency="EUR",
                due_date=date(2026, 11, 30),
            ),
            people.agency.id,
        )
        failed = event_of(
            InvoicePaymentFailed(
                invoice_id=invoice_id,
                client_id=people.client_id,
                number="INV-0007",
                reason="Card declined",
            ),
            people.agency.id,
        )

        await deliver(in_process, paid, overdue, failed)

        readers = {people.owner.user_id, people.manager.user_id}
        assert await told(in_process, paid, "invoice.paid") == readers
        assert await told(in_process, overdue, "invoice.overdue") == readers
        assert await told(in_process, failed, "invoice.payment_failed") == readers
        [note] = await notices_of(in_process, people.manager, "invoice.payment_failed")
        assert (note["title"], note["body"]) == (
            "A payment for invoice INV-0007 failed",
            "Card declined",
        )
        # overdue and payment failed are emailed to staff by default, paid is not
        staff_emails = {
            (e["template"], e["user_id"])
            for event in (paid, overdue, failed)
            for e in await emailed(in_process, event)
            if e["user_id"] is not None
        }
        assert staff_emails == {("notice", u) for u in readers}
