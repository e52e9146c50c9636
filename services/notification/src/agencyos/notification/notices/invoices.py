"""Notices about invoices (sent, paid, overdue, a payment failed) to the agency's people who
read invoices (`invoices.read`)."""

from __future__ import annotations

import uuid

from agencyos.common.currencies import format_money
from agencyos.common.events import InvoiceOverdue, InvoicePaid, InvoicePaymentFailed, InvoiceSent
from agencyos.notification.kinds import KINDS
from agencyos.notification.notices.builders import Builder
from agencyos.notification.notices.notice import Notice
from agencyos.notification.notices.telling import Telling
from agencyos.notification.recipients.rules import holders

READ_INVOICES = "invoices.read"


def invoice_link(invoice_id: uuid.UUID) -> str:
    return f"/v1/invoices/{invoice_id}"


async def _tell_readers(
    telling: Telling, kind_name: str, invoice_id: uuid.UUID, title: str, body: str
) -> None:
    kind = KINDS[kind_name]
    notice = Notice(
        kind=kind.name,
        title=title,
        body=body,
        link=invoice_link(invoice_id),
        link_label="Open the invoice",
        subject=f"invoices/{invoice_id}",
        data={"invoice_id": str(invoice_id)},
    )
    await telling.tell(notice, holders(READ_INVOICES, await telling.holding(READ_INVOICES), kind))


def _client(bill_to: object) -> str:
    name = getattr(bill_to, "client_name", None)
    return f" to {name}" if name else ""


async def invoice_sent(telling: Telling) -> None:
    p = telling.event.payload(InvoiceSent)
    await _tell_readers(
        telling,
        "invoice.sent",
        p.invoice_id,
        f"Invoice {p.number} was sent{_client(p.bill_to)}",
        f"{format_money(p.total_cents, p.currency)}, due {p.due_date.isoformat()}.",
    )


async def invoice_paid(telling: Telling) -> None:
    p = telling.event.payload(InvoicePaid)
    await _tell_readers(
        telling,
        "invoice.paid",
        p.invoice_id,
        f"Invoice {p.number} was paid",
        f"{format_money(p.total_cents, p.currency)} received in full.",
    )


async def invoice_overdue(telling: Telling) -> None:
    p = telling.event.payload(InvoiceOverdue)
    await _tell_readers(
        telling,
        "invoice.overdue",
        p.invoice_id,
        f"Invoice {p.number} is overdue",
        f"{format_money(p.amount_due_cents, p.currency)} was due {p.due_date.isoformat()}.",
    )


async def invoice_payment_failed(telling: Telling) -> None:
    p = telling.event.payload(InvoicePaymentFailed)
    number = f"invoice {p.number}" if p.number else "an invoice"
    await _tell_readers(
        telling,
        "invoice.payment_failed",
        p.invoice_id,
        f"A payment for {number} failed",
        p.reason or "The payment provider refused the payment.",
    )


BUILDERS: dict[str, Builder] = {
    InvoiceSent.event_type: invoice_sent,
    InvoicePaid.event_type: invoice_paid,
    InvoiceOverdue.event_type: invoice_overdue,
    InvoicePaymentFailed.event_type: invoice_payment_failed,
}
