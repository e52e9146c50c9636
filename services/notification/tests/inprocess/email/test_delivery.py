"""The delivery worker's tick against a real SMTP server: retries with backoff, permanent
failures, an outage caught up, no email sent twice by two workers, secrets blanked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from agencyos.common.db import Database
from agencyos.notification.email.delivery import DeliveryService, RetryPolicy
from agencyos.notification.email.message import Addressee, RenderedEmail
from agencyos.notification.email.queue import queue_email
from agencyos.notification.email.sender import SmtpSender
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.smtp_sink import SmtpSink

from .conftest import settings_for

FAST = RetryPolicy(retry_seconds=[0.05], max_attempts=3, jitter=0.0)


def service(
    db: Database, sink: SmtpSink, policy: RetryPolicy = FAST, **extra: Any
) -> DeliveryService:
    return DeliveryService(db, SmtpSender(settings_for(sink)), policy=policy, **extra)


def address() -> str:
    return f"to-{uuid.uuid4().hex[:10]}@example.com"


async def queued(
    db: Database, agency: Agency, to: str, *, contains_secret: bool = False
) -> uuid.UUID:
    event_id = uuid.uuid4()
    async with db.transaction(agency.id) as session:
        assert await queue_email(
            session,
            tenant_id=agency.id,
            source_event_id=event_id,
            template="notice",
            to=Addressee(email=to, name="Ada"),
            rendered=RenderedEmail("Hello", "<p>secret link</p>", "secret link"),
            contains_secret=contains_secret,
        )
    return event_id


async def delivery(in_process: InProcess, agency: Agency, to: str) -> Any:
    service_ = await in_process.service("notification")
    [row] = await service_.rows(
        "SELECT * FROM email_deliveries WHERE to_email = $1", to, tenant_id=agency.id
    )
    return row


async def wait_past_backoff() -> None:
    await asyncio.sleep(0.1)


class TestSending:
    async def test_a_queued_email_is_sent_and_recorded_with_the_server_s_answer(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)

        result = await service(notification_db, smtp_sink).tick()

        assert (result.claimed, result.sent) == (1, 1)
        assert len(smtp_sink.to(to)) == 1
        row = await delivery(in_process, tenant, to)
        assert row["status"] == "sent"
        assert row["attempts"] == 1
        assert row["sent_at"] is not None
        assert row["smtp_answer"].startswith("250")
        assert row["html"] == "<p>secret link</p>"

    async def test_a_sent_email_is_not_sent_again(
        self, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        worker = service(notification_db, smtp_sink)

        await worker.tick()
        again = await worker.tick()

        assert again.claimed == 0
        assert len(smtp_sink.to(to)) == 1

    async def test_every_agency_s_emails_are_sent(
        self,
        notification_db: Database,
        tenant: Agency,
        other_tenant: Agency,
        smtp_sink: SmtpSink,
    ) -> None:
        mine, theirs = address(), address()
        await queued(notification_db, tenant, mine)
        await queued(notification_db, other_tenant, theirs)

        await service(notification_db, smtp_sink).tick()

        assert len(smtp_sink.to(mine)) == len(smtp_sink.to(theirs)) == 1


class TestTemporaryFailure:
    async def test_a_421_is_retried_after_the_backoff_then_sent(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        smtp_sink.replies.append("421 busy, try later")
        worker = service(notification_db, smtp_sink)

        first = await worker.tick()
        row = await delivery(in_process, tenant, to)
        assert (first.retried, row["status"], row["attempts"]) == (1, "queued", 1)
        assert row["smtp_answer"] == "421 busy, try later"
        assert row["next_attempt_at"] > row["last_attempt_at"]
        assert (await worker.tick()).claimed == 0  # not before the backoff
        await wait_past_backoff()
        second = await worker.tick()

        assert second.sent == 1
        row = await delivery(in_process, tenant, to)
        assert (row["status"], row["attempts"]) == ("sent", 2)
        assert len(smtp_sink.to(to)) == 1

    async def test_after_the_last_attempt_the_email_has_failed_with_the_last_answer(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        smtp_sink.replies.extend(["421 one", "451 two", "452 three", "250 never reached"])
        worker = service(notification_db, smtp_sink)

        for _ in range(FAST.max_attempts + 1):
            await worker.tick()
            await wait_past_backoff()

        row = await delivery(in_process, tenant, to)
        assert (row["status"], row["attempts"], row["smtp_answer"]) == ("failed", 3, "452 three")
        assert smtp_sink.to(to) == []

    def test_the_wait_grows_with_each_attempt_and_the_last_step_repeats(self) -> None:
        policy = RetryPolicy(retry_seconds=[30, 120, 600], max_attempts=8, jitter=0.2)

        waits = [policy.wait_after(n) for n in (1, 2, 3, 4, 7)]

        for wait, base in zip(waits, [30, 120, 600, 600, 600], strict=True):
            assert timedelta(seconds=base) <= wait <= timedelta(seconds=base * 1.2)


class TestPermanentFailure:
    async def test_a_550_fails_the_email_at_once(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        smtp_sink.refused[to] = "550 no such mailbox"
        worker = service(notification_db, smtp_sink)

        result = await worker.tick()
        await wait_past_backoff()
        again = await worker.tick()

        assert (result.failed, again.claimed) == (1, 0)
        row = await delivery(in_process, tenant, to)
        assert (row["status"], row["attempts"]) == ("failed", 1)
        assert row["smtp_answer"] == "550 no such mailbox"


class TestOutage:
    async def test_emails_queued_while_the_server_is_down_are_all_sent_once_it_is_back(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        sink = SmtpSink()  # not started: nothing listens on its port
        recipients = [address() for _ in range(5)]
        for to in recipients:
            await queued(notification_db, tenant, to)
        worker = service(notification_db, sink, RetryPolicy([0.05], max_attempts=8, jitter=0))

        down = await worker.tick()
        sink.start()
        try:
            await wait_past_backoff()
            back = await worker.tick()
        finally:
            sink.stop()

        assert (down.retried, back.sent) == (5, 5)
        for to in recipients:
            assert len(sink.to(to)) == 1
            assert (await delivery(in_process, tenant, to))["status"] == "sent"


class TestConcurrentWorkers:
    async def test_two_workers_never_send_the_same_email(
        self, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        recipients = [address() for _ in range(40)]
        for to in recipients:
            await queued(notification_db, tenant, to)
        one = service(notification_db, smtp_sink, batch_size=25)
        two = service(notification_db, smtp_sink, batch_size=25)

        results: Sequence[Any] = []
        for _ in range(4):
            results = [*results, *await asyncio.gather(one.tick(), two.tick())]

        assert sum(r.sent for r in results) == 40
        for to in recipients:
            assert len(smtp_sink.to(to)) == 1

    async def test_a_row_being_sent_is_taken_again_only_once_its_lease_ran_out(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        # a worker that claimed the row and died before recording anything
        crashed = service(notification_db, smtp_sink, lease_seconds=0.2)
        [row] = await (await in_process.service("notification")).rows(
            "SELECT tenant_id, id FROM email_deliveries WHERE to_email = $1",
            to,
            tenant_id=tenant.id,
        )
        assert len(await crashed._claim(tenant.id, [row["id"]])) == 1
        survivor = service(notification_db, smtp_sink)

        during = await survivor.tick()
        await asyncio.sleep(0.3)
        after = await survivor.tick()

        assert (during.claimed, after.sent) == (0, 1)
        row = await delivery(in_process, tenant, to)
        assert (row["status"], row["attempts"]) == ("sent", 2)

    async def test_a_claim_whose_lease_ran_low_before_sending_sends_nothing(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to)
        # a lease so short it is half gone before the email's turn to be sent
        worker = service(notification_db, smtp_sink, lease_seconds=0.001)

        result = await worker.tick()

        assert (result.claimed, result.sent) == (1, 0)
        assert smtp_sink.to(to) == []
        assert (await delivery(in_process, tenant, to))["status"] == "sending"


class TestSecrets:
    @pytest.mark.parametrize("refusal", [None, "550 no such mailbox"])
    async def test_a_secret_bearing_email_loses_its_bodies_once_sent_or_failed(
        self,
        in_process: InProcess,
        notification_db: Database,
        tenant: Agency,
        smtp_sink: SmtpSink,
        refusal: str | None,
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to, contains_secret=True)
        if refusal:
            smtp_sink.refused[to] = refusal

        await service(notification_db, smtp_sink).tick()

        row = await delivery(in_process, tenant, to)
        assert row["status"] == ("failed" if refusal else "sent")
        assert (row["html"], row["text"]) == ("", "")
        assert row["subject"] == "Hello"
        if not refusal:
            [received] = smtp_sink.to(to)
            assert "secret link" in received.message.as_string()

    async def test_a_secret_bearing_email_keeps_its_bodies_while_it_waits_for_a_retry(
        self, in_process: InProcess, notification_db: Database, tenant: Agency, smtp_sink: SmtpSink
    ) -> None:
        to = address()
        await queued(notification_db, tenant, to, contains_secret=True)
        smtp_sink.replies.append("421 busy")

        await service(notification_db, smtp_sink).tick()

        row = await delivery(in_process, tenant, to)
        assert (row["status"], row["text"]) == ("queued", "secret link")
