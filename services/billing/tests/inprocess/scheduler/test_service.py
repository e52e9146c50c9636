"""What the scheduler's notices carry for the notification service, which cannot ask CRM: the
overdue notice and the reminders name the addressee kept when the invoice was sent
(`bill_to`), and the overdue notice the payment page. (When notices go out is the platform
tier's `test_scheduler.py`.)"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from agencyos.billing.scheduler.service import SchedulerService
from agencyos.testing.inprocess import Caller, InProcess, ServiceInProcess
from agencyos.testing.invoicing import Books

OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]


class TestNotices:
    async def test_overdue_and_reminder_name_the_addressee_and_the_payment_page(
        self,
        in_process: InProcess,
        books: Books,
        agency: Caller,
        billing_service: ServiceInProcess,
        outbox_events: OutboxEvents,
    ) -> None:
        client = in_process.standins.crm.clients[(agency.agency_id, books.client_id)]
        client.company_name = "Acme Widgets GmbH"
        client.primary_contact_name = "Jane Payer"
        client.primary_contact_email = "jane@acme.example"
        invoice = await books.sent((await books.manual_draft(10_000, due_in_days=14))["id"])
        invoice_id = uuid.UUID(invoice["id"])
        # CRM changes afterwards: the notices still go to whom the invoice went to
        client.primary_contact_email = "someone.else@acme.example"
        due = date.fromisoformat(invoice["due_date"])

        # two days late: overdue, and the reminder of the day after the due date
        now = datetime.combine(due + timedelta(days=2), time(12), tzinfo=UTC)
        await SchedulerService(billing_service.ctx.database()).tick(now)

        bill_to = {
            "client_name": "Acme Widgets GmbH",
            "contact_name": "Jane Payer",
            "email": "jane@acme.example",
        }
        [overdue] = await outbox_events(agency, "billing.invoice.overdue", invoice_id)
        assert overdue["data"] == {
            "invoice_id": invoice["id"],
            "client_id": str(books.client_id),
            "number": invoice["number"],
            "total_cents": invoice["total_cents"],
            "amount_due_cents": invoice["total_cents"],
            "currency": "EUR",
            "due_date": invoice["due_date"],
            "payment_url": invoice["payment_url"],
            "bill_to": bill_to,
            "issuer": overdue["data"]["issuer"],
        }
        [reminder] = await outbox_events(agency, "billing.invoice.reminder", invoice_id)
        assert reminder["data"]["days_from_due"] == 1
        assert reminder["data"]["payment_url"] == invoice["payment_url"]
        assert reminder["data"]["bill_to"] == bill_to
