"""The delivery worker's work: find due emails of every agency, claim them, send them, record
each outcome.

A row is claimed (under its own agency, `FOR UPDATE SKIP LOCKED`) by setting it `sending`
with a lease: `next_attempt_at` moves to the end of the lease, so no other worker sees it as
due until then. The claim commits before sending, so two workers never send the same row
while the lease lasts; a worker that dies mid-send leaves the row to be taken again when its
lease ends, and a claimed row still waiting for a free sending slot when half its lease has
gone is not sent by this claim (the next one takes it). The outcome is recorded only by the
claim that still holds the row (same `last_attempt_at`, still `sending`).

Each claim counts an attempt. A temporary failure waits `email_retry_seconds[attempt - 1]`
(the last one repeats) plus up to a fifth at random; after `email_max_attempts` the email is
`failed` for good with the last answer. A permanent failure is `failed` at once. An email
that `contains_secret` has its bodies blanked once sent or failed: the link in it lives in
the queue only until it is delivered.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Database, utcnow
from agencyos.common.logs import get_logger
from agencyos.notification.email.brands import brand_of
from agencyos.notification.email.message import Addressee, AttachmentLink
from agencyos.notification.email.sender import EmailSender, Outcome, OutgoingEmail, SendResult
from agencyos.notification.models import DeliveryStatus
from agencyos.notification.models.email_delivery import EMAIL_WORKER_SETTING

log = get_logger(__name__)

_DUE = (
    f"status IN ('{DeliveryStatus.QUEUED.value}', '{DeliveryStatus.SENDING.value}') "
    "AND next_attempt_at <= now()"
)


@dataclass(frozen=True)
class RetryPolicy:
    retry_seconds: Sequence[float]
    max_attempts: int
    jitter: float = 0.2

    def wait_after(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th attempt failed for now."""
        steps = list(self.retry_seconds) or [60.0]
        base = steps[min(attempts, len(steps)) - 1]
        return timedelta(seconds=base * (1 + random.uniform(0, self.jitter)))


@dataclass(frozen=True)
class Claimed:
    tenant_id: uuid.UUID
    id: uuid.UUID
    attempts: int
    claimed_at: datetime
    contains_secret: bool
    email: OutgoingEmail


@dataclass
class TickResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0


class DeliveryService:
    def __init__(
        self,
        db: Database,
        sender: EmailSender,
        *,
        policy: RetryPolicy,
        batch_size: int = 50,
        concurrency: int = 10,
        lease_seconds: float = 300.0,
    ) -> None:
        self.db = db
        self.sender = sender
        self.policy = policy
        self.batch_size = batch_size
        self.lease_seconds = lease_seconds
        self._slots = asyncio.Semaphore(max(1, concurrency))

    async def tick(self) -> TickResult:
        """One pass: up to `batch_size` due emails of any agencies, sent and recorded."""
        result = TickResult()
        async with self.db.transaction(None, settings={EMAIL_WORKER_SETTING: "on"}) as session:
            due = (
                await session.execute(
                    text(
                        f"SELECT tenant_id, id FROM email_deliveries WHERE {_DUE} "
                        "ORDER BY next_attempt_at LIMIT :limit"
                    ),
                    {"limit": self.batch_size},
                )
            ).all()
        claimed: list[Claimed] = []
        for tenant_id, rows in groupby(due, key=lambda r: r.tenant_id):
            try:
                claimed += await self._claim(tenant_id, [r.id for r in rows])
            except Exception:
                log.exception("claiming emails failed for an agency", tenant_id=str(tenant_id))
        result.claimed = len(claimed)
        outcomes = await asyncio.gather(*(self._deliver(c) for c in claimed))
        for outcome in outcomes:
            if outcome is Outcome.SENT:
                result.sent += 1
            elif outcome is Outcome.TEMPORARY:
                result.retried += 1
            elif outcome is Outcome.PERMANENT:
                result.failed += 1
        return result

    async def _claim(self, tenant_id: uuid.UUID, ids: list[uuid.UUID]) -> list[Claimed]:
        async with self.db.transaction(tenant_id) as session:
            rows = (
                await session.execute(
                    text(
                        "UPDATE email_deliveries d SET "
                        f"status = '{DeliveryStatus.SENDING.value}', "
                        "attempts = d.attempts + 1, last_attempt_at = now(), "
                        "next_attempt_at = now() + make_interval(secs => :lease) "
                        "FROM (SELECT tenant_id, id FROM email_deliveries "
                        f"WHERE id = ANY(:ids) AND {_DUE} FOR UPDATE SKIP LOCKED) due "
                        "WHERE d.tenant_id = due.tenant_id AND d.id = due.id "
                        "RETURNING d.*"
                    ),
                    {"ids": ids, "lease": self.lease_seconds},
                )
            ).all()
            if not rows:
                return []
            brand = await brand_of(session, tenant_id)
        return [_claimed(row._mapping, brand.name) for row in rows]

    async def _deliver(self, claimed: Claimed) -> Outcome | None:
        async with self._slots:
            if self._lease_ran_low(claimed):
                # waited too long for a slot: another worker may take the row any moment now,
                # so leave it to whoever claims it next rather than risk sending it twice
                return None
            try:
                result = await self.sender.send(claimed.email)
            except Exception as error:
                # a bug or an unforeseen error: retried like any temporary failure
                log.exception("sending an email failed", delivery_id=str(claimed.id))
                result = SendResult(Outcome.TEMPORARY, f"{type(error).__name__}")
        try:
            recorded = await self._record(claimed, result)
        except Exception:
            # the lease runs out and the email is tried again
            log.exception("recording an email's outcome failed", delivery_id=str(claimed.id))
            return None
        return result.outcome if recorded else None

    def _lease_ran_low(self, claimed: Claimed) -> bool:
        return utcnow() > claimed.claimed_at + timedelta(seconds=self.lease_seconds / 2)

    async def _record(self, claimed: Claimed, result: SendResult) -> bool:
        values: dict[str, Any] = {
            "tenant": claimed.tenant_id,
            "id": claimed.id,
            "claimed_at": claimed.claimed_at,
            "answer": result.answer,
        }
        final = True
        if result.outcome is Outcome.SENT:
            changes = f"status = '{DeliveryStatus.SENT.value}', sent_at = now()"
        elif result.outcome is Outcome.TEMPORARY and claimed.attempts < self.policy.max_attempts:
            final = False
            changes = f"status = '{DeliveryStatus.QUEUED.value}', next_attempt_at = :next"
            values["next"] = utcnow() + self.policy.wait_after(claimed.attempts)
        else:
            changes = f"status = '{DeliveryStatus.FAILED.value}'"
        if final and claimed.contains_secret:
            changes += ", html = '', text = ''"
        async with self.db.transaction(claimed.tenant_id) as session:
            return await _update(session, changes, values)


async def _update(session: AsyncSession, changes: str, values: dict[str, Any]) -> bool:
    row = (
        await session.execute(
            text(
                f"UPDATE email_deliveries SET {changes}, smtp_answer = :answer "
                "WHERE tenant_id = :tenant AND id = :id "
                f"AND status = '{DeliveryStatus.SENDING.value}' "
                "AND last_attempt_at = :claimed_at RETURNING id"
            ),
            values,
        )
    ).first()
    return row is not None


def _claimed(row: Any, from_name: str) -> Claimed:
    return Claimed(
        tenant_id=row["tenant_id"],
        id=row["id"],
        attempts=row["attempts"],
        claimed_at=row["last_attempt_at"],
        contains_secret=row["contains_secret"],
        email=OutgoingEmail(
            delivery_id=row["id"],
            from_name=from_name,
            to=Addressee(email=row["to_email"], name=row["to_name"], user_id=row["user_id"]),
            subject=row["subject"],
            html=row["html"],
            text=row["text"],
            attachments=[
                AttachmentLink(a["filename"], a["content_type"], a["url"])
                for a in row["attachments"] or []
            ],
            unsubscribe_url=row["unsubscribe_url"],
        ),
    )
