"""The durable queue: one row per (event, recipient address, template), in the caller's
transaction, whatever redelivers the event."""

from __future__ import annotations

import json
import uuid
from typing import Any

from agencyos.common.db import Database
from agencyos.notification.email.message import Addressee, AttachmentLink, RenderedEmail
from agencyos.notification.email.queue import queue_email
from agencyos.testing.inprocess import Agency, InProcess

EMAIL = RenderedEmail(subject="Hi", html="<p>Hi</p>", text="Hi", unsubscribe_url="http://x/u")


async def queue(
    db: Database,
    agency: Agency,
    *,
    event_id: uuid.UUID,
    email: str = "ada@example.com",
    template: str = "notice",
    **extra: Any,
) -> bool:
    async with db.transaction(agency.id) as session:
        return await queue_email(
            session,
            tenant_id=agency.id,
            source_event_id=event_id,
            template=template,
            to=Addressee(email=email, name="Ada"),
            rendered=EMAIL,
            **extra,
        )


async def deliveries(in_process: InProcess, agency: Agency) -> list[Any]:
    service = await in_process.service("notification")
    return await service.rows(
        "SELECT * FROM email_deliveries ORDER BY created_at", tenant_id=agency.id
    )


class TestIdempotency:
    async def test_the_same_event_recipient_and_template_is_queued_once(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        event_id = uuid.uuid4()

        first = await queue(notification_db, tenant, event_id=event_id)
        again = await queue(notification_db, tenant, event_id=event_id)
        shouting = await queue(notification_db, tenant, event_id=event_id, email="ADA@example.com")

        assert (first, again, shouting) == (True, False, False)
        assert len(await deliveries(in_process, tenant)) == 1

    async def test_another_recipient_template_or_event_is_another_email(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        event_id = uuid.uuid4()

        assert await queue(notification_db, tenant, event_id=event_id)
        assert await queue(notification_db, tenant, event_id=event_id, email="bo@example.com")
        assert await queue(notification_db, tenant, event_id=event_id, template="mention")
        assert await queue(notification_db, tenant, event_id=uuid.uuid4())

        assert len(await deliveries(in_process, tenant)) == 4

    async def test_the_same_event_id_in_two_agencies_is_two_emails(
        self,
        in_process: InProcess,
        notification_db: Database,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        event_id = uuid.uuid4()

        assert await queue(notification_db, tenant, event_id=event_id)
        assert await queue(notification_db, other_tenant, event_id=event_id)


class TestTheQueuedRow:
    async def test_holds_what_the_worker_needs_and_waits_to_be_sent(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        event_id = uuid.uuid4()
        link = AttachmentLink("invoice-1.pdf", "application/pdf", "http://x/1.pdf")

        await queue(
            notification_db,
            tenant,
            event_id=event_id,
            kind="task.assigned",
            contains_secret=True,
            attachments=[link],
        )

        [row] = await deliveries(in_process, tenant)
        assert row["status"] == "queued"
        assert row["attempts"] == 0
        assert row["source_event_id"] == event_id
        assert (row["to_email"], row["to_name"]) == ("ada@example.com", "Ada")
        assert (row["subject"], row["html"], row["text"]) == ("Hi", "<p>Hi</p>", "Hi")
        assert row["unsubscribe_url"] == "http://x/u"
        assert row["kind"] == "task.assigned"
        assert row["contains_secret"] is True
        assert row["next_attempt_at"] is not None
        assert json.loads(row["attachments"]) == [
            {
                "filename": "invoice-1.pdf",
                "content_type": "application/pdf",
                "url": "http://x/1.pdf",
            }
        ]

    async def test_is_not_there_when_the_caller_s_transaction_rolls_back(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        class Abort(Exception):
            pass

        try:
            async with notification_db.transaction(tenant.id) as session:
                await queue_email(
                    session,
                    tenant_id=tenant.id,
                    source_event_id=uuid.uuid4(),
                    template="notice",
                    to=Addressee("ada@example.com"),
                    rendered=EMAIL,
                )
                raise Abort
        except Abort:
            pass

        assert await deliveries(in_process, tenant) == []
