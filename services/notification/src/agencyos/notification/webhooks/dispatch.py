"""The dispatcher: finds due deliveries of every agency, claims them, sends them, records each
attempt and what it means for the delivery and its endpoint.

Due rows are read with the `app.webhook_worker` flag (every agency's, read only), oldest
event first, only for enabled endpoints, and at most `webhook_endpoint_concurrency` per
endpoint counting those already in flight: an endpoint at its limit is left out of the read,
so one slow or dead endpoint never holds back the others. The claim runs each agency's rows
under that agency (one transaction, the tenant switched per agency): its endpoints are locked
(so two workers never put more than the limit in flight), the in-flight count is taken again,
and the rows are set `sending` with a lease (`SKIP LOCKED`), as email/delivery.py does.
Each claimed row is sent by a task of its own, at most `webhook_concurrency` at once per
process; the next claims do not wait for slow sends.

An attempt's outcome is recorded only by the claim that still holds the row (same
`last_attempt_at`, still `sending`), in one transaction with its consequences: a 2xx makes the
delivery succeeded and the endpoint healthy; 410 Gone fails the delivery and disables the
endpoint at once; anything else (no answer, a refused destination) is retried after
`webhook_retry_seconds[attempt - 1]` plus up to `webhook_retry_jitter` of it, until the last
attempt fails the delivery. The first failure after a success marks the endpoint failing; one
failing longer than `webhook_disable_after_failing_seconds` is disabled and its owners are
told. A failed delivery publishes `notification.webhook.failed` in the same transaction, and
after the commit goes to the dead-letter topic (`dead_lettered_at` once Kafka has it; a sweep
retries those Kafka did not take).
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import TENANT_SETTING, Database, set_local, utcnow
from agencyos.common.events import WebhookEndpointDisabled, WebhookFailed
from agencyos.common.logs import get_logger
from agencyos.common.outbox import ProducerSlot, publish
from agencyos.notification.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from agencyos.notification.models.webhook import WEBHOOK_WORKER_SETTING, EndpointDisabledReason
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.dead_letters import DEAD_LETTER_TOPIC, dead_letter_message
from agencyos.notification.webhooks.disabling import tell_owners
from agencyos.notification.webhooks.metrics import (
    WEBHOOK_ATTEMPT_LATENCY,
    WEBHOOK_BACKLOG,
    WEBHOOK_DEAD_LETTERED,
    WEBHOOK_DELIVERIES,
)
from agencyos.notification.webhooks.secrets import signing_secrets
from agencyos.notification.webhooks.sender import (
    AttemptOutcome,
    AttemptResult,
    OutgoingWebhook,
    WebhookSender,
)

log = get_logger(__name__)

SERVICE = "notification"
# A failed delivery not dead-lettered this long after it failed is taken by the sweep (the
# sender's own attempt right after the commit had its chance).
DEAD_LETTER_GRACE_SECONDS = 10.0
DEAD_LETTER_SWEEP_SECONDS = 15.0
BACKLOG_REPORT_SECONDS = 5.0
WAKE_GATHER_SECONDS = 0.01


def _due(row: str = "") -> str:
    """A delivery waiting for its next attempt, or sending with its lease run out."""
    return (
        f"{row}status IN ('{WebhookDeliveryStatus.PENDING.value}', "
        f"'{WebhookDeliveryStatus.SENDING.value}') AND {row}next_attempt_at <= now()"
    )


_DUE = _due()


def _in_flight(row: str = "") -> str:
    """A delivery being sent now (its lease runs)."""
    return f"{row}status = '{WebhookDeliveryStatus.SENDING.value}' AND {row}next_attempt_at > now()"


_IN_FLIGHT = _in_flight()

# Each enabled endpoint's oldest due deliveries, as many as it has room for (its in-flight
# ones counted), then the oldest of all those: one short index range per endpoint
# (ix_webhook_deliveries_endpoint_queue), however long the backlog.
_DUE_QUERY = f"""
SELECT next.tenant_id, next.id, next.endpoint_id FROM webhook_endpoints e
CROSS JOIN LATERAL (
    SELECT count(*) AS busy FROM webhook_deliveries f
    WHERE f.tenant_id = e.tenant_id AND f.endpoint_id = e.id AND {_in_flight("f.")}
) flight
CROSS JOIN LATERAL (
    SELECT d.tenant_id, d.id, d.endpoint_id, d.occurred_at, d.created_at
    FROM webhook_deliveries d
    WHERE d.tenant_id = e.tenant_id AND d.endpoint_id = e.id AND {_due("d.")}
    ORDER BY d.occurred_at, d.created_at, d.id
    LIMIT greatest(:per_endpoint - flight.busy, 0)
) next
WHERE e.enabled
ORDER BY next.occurred_at, next.created_at, next.id LIMIT :limit
"""


@dataclass(frozen=True)
class RetrySchedule:
    retry_seconds: Sequence[float]
    jitter: float = 0.2

    def wait_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th attempt failed (the last step repeats, for a
        delivery retried by hand past the schedule)."""
        steps = list(self.retry_seconds) or [60.0]
        base = steps[min(max(attempts, 1), len(steps)) - 1]
        return timedelta(seconds=base * (1 + random.uniform(0, self.jitter)))


@dataclass(frozen=True)
class Claimed:
    tenant_id: uuid.UUID
    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    body: str
    attempts: int
    max_attempts: int
    claimed_at: datetime
    url: str
    secrets: Sequence[str] | None  # None: unreadable (the key changed)


@dataclass(frozen=True)
class Recorded:
    """What one attempt made of its delivery."""

    outcome: str  # succeeded, retried, failed
    disabled: str | None = None  # the endpoint's disabled reason, when this disabled it


class WebhookDispatcher:
    def __init__(
        self,
        db: Database,
        sender: WebhookSender,
        settings: NotificationSettings,
        *,
        bootstrap: str | None = None,
        topic_prefix: str = "",
    ) -> None:
        self.db = db
        self.sender = sender
        self.settings = settings
        self.schedule = RetrySchedule(settings.webhook_retry_seconds, settings.webhook_retry_jitter)
        self.dead_letter_topic = topic_prefix + DEAD_LETTER_TOPIC
        self._producer = (
            ProducerSlot(bootstrap, "agencyos-notification-webhooks", stop_timeout_seconds=10.0)
            if bootstrap
            else None
        )
        self._in_flight: set[asyncio.Task[None]] = set()
        self._woken = asyncio.Event()
        self._stopping = asyncio.Event()

    # --- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for due deliveries now (new ones were created, a slot came free)."""
        self._woken.set()

    def stop(self) -> None:
        self._stopping.set()
        self._woken.set()

    async def run(self) -> None:
        log.info("webhook dispatcher started", poll_seconds=self.settings.webhook_poll_seconds)
        sweep_due = backlog_due = 0.0
        try:
            while not self._stopping.is_set():
                self._woken.clear()
                full = False
                try:
                    full = await self.tick()
                    if time.monotonic() >= sweep_due:
                        await self.sweep_dead_letters()
                        sweep_due = time.monotonic() + DEAD_LETTER_SWEEP_SECONDS
                    if time.monotonic() >= backlog_due:
                        await self.report_backlog()
                        backlog_due = time.monotonic() + BACKLOG_REPORT_SECONDS
                except Exception:
                    log.exception("webhook dispatch failed; trying again")
                if not full:
                    await self._wait(self.settings.webhook_poll_seconds)
        finally:
            await self.drain()
            await self.sender.close()
            if self._producer is not None:
                await self._producer.drop()
            log.info("webhook dispatcher stopped")

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._woken.wait(), timeout=seconds)
        except TimeoutError:
            return
        # Woken (a send finished, deliveries were created): a moment more lets the sends
        # finishing together be claimed for in one pass rather than one pass each.
        await asyncio.sleep(WAKE_GATHER_SECONDS)

    async def drain(self) -> None:
        """Wait for every send in flight to be recorded."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight), return_exceptions=True)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    # --- claiming ----------------------------------------------------------------------------

    async def tick(self) -> bool:
        """Claim what is due and may go now, and start sending it; True when as many were
        claimed as could be (more may be due)."""
        settings = self.settings
        room = min(settings.webhook_concurrency - self.in_flight, settings.webhook_batch_size)
        if room <= 0:
            return False
        async with self.db.transaction(None, settings={WEBHOOK_WORKER_SETTING: "on"}) as session:
            due = (
                await session.execute(
                    text(_DUE_QUERY),
                    {"per_endpoint": self.settings.webhook_endpoint_concurrency, "limit": room},
                )
            ).all()
        if not due:
            return False
        try:
            claimed = await self._claim([(r.tenant_id, r.id, r.endpoint_id) for r in due])
        except Exception:
            log.exception("claiming webhook deliveries failed")
            return False
        for item in claimed:
            task = asyncio.create_task(self._deliver(item), name=f"webhook:{item.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._sent)
        return len(claimed) >= room

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self.wake()

    async def _claim(
        self, candidates: Sequence[tuple[uuid.UUID, uuid.UUID, uuid.UUID]]
    ) -> list[Claimed]:
        """Claim `candidates` (tenant, delivery, endpoint) in one transaction, agency after
        agency (tenant-id order, the tenant set before each agency's statements, as the feed
        recorder does), each agency's endpoints locked in id order so two claimers never
        deadlock nor exceed an endpoint's limit."""
        by_tenant: dict[uuid.UUID, list[tuple[uuid.UUID, uuid.UUID]]] = defaultdict(list)
        for tenant_id, delivery_id, endpoint_id in candidates:
            by_tenant[tenant_id].append((delivery_id, endpoint_id))
        claimed: list[Claimed] = []
        async with self.db.transaction(None) as session:
            for tenant_id in sorted(by_tenant):
                await set_local(session, {TENANT_SETTING: str(tenant_id)})
                claimed += await self._claim_tenant(session, tenant_id, by_tenant[tenant_id])
        return claimed

    async def _claim_tenant(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        candidates: list[tuple[uuid.UUID, uuid.UUID]],
    ) -> list[Claimed]:
        limit = self.settings.webhook_endpoint_concurrency
        endpoint_ids = sorted({endpoint_id for _, endpoint_id in candidates})
        # FOR NO KEY UPDATE: claimers of one endpoint take turns, while the ingest's new
        # deliveries (whose foreign key takes KEY SHARE on their endpoint) never wait on it
        endpoints = {
            e.id: e
            for e in await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.id.in_(endpoint_ids), WebhookEndpoint.enabled)
                .order_by(WebhookEndpoint.id)
                .with_for_update(key_share=True)
            )
        }
        busy: dict[uuid.UUID, int] = defaultdict(int)
        for endpoint_id, count in (
            await session.execute(
                text(
                    "SELECT endpoint_id, count(*) FROM webhook_deliveries "
                    f"WHERE endpoint_id = ANY(:ids) AND {_IN_FLIGHT} GROUP BY endpoint_id"
                ),
                {"ids": list(endpoints)},
            )
        ).all():
            busy[endpoint_id] = count
        ids = []
        for delivery_id, endpoint_id in candidates:
            if endpoint_id in endpoints and busy[endpoint_id] < limit:
                busy[endpoint_id] += 1
                ids.append(delivery_id)
        if not ids:
            return []
        rows = (
            await session.execute(
                text(
                    "UPDATE webhook_deliveries d SET "
                    f"status = '{WebhookDeliveryStatus.SENDING.value}', "
                    "attempts = d.attempts + 1, last_attempt_at = now(), "
                    "next_attempt_at = now() + make_interval(secs => :lease) "
                    "FROM (SELECT tenant_id, id FROM webhook_deliveries "
                    f"WHERE id = ANY(:ids) AND {_DUE} FOR NO KEY UPDATE SKIP LOCKED) due "
                    "WHERE d.tenant_id = due.tenant_id AND d.id = due.id "
                    "RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.body, "
                    "d.attempts, d.max_attempts, d.last_attempt_at"
                ),
                {"ids": ids, "lease": self.settings.webhook_lease_seconds},
            )
        ).all()
        now = utcnow()
        return [
            Claimed(
                tenant_id=tenant_id,
                id=row.id,
                endpoint_id=row.endpoint_id,
                event_id=row.event_id,
                event_type=row.event_type,
                body=row.body,
                attempts=row.attempts,
                max_attempts=row.max_attempts,
                claimed_at=row.last_attempt_at,
                url=endpoints[row.endpoint_id].url,
                secrets=self._secrets(endpoints[row.endpoint_id], now),
            )
            for row in rows
        ]

    def _secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str] | None:
        try:
            return signing_secrets(endpoint, now=now, key=self.settings.webhook_secret_key)
        except Exception:
            log.exception("an endpoint's signing secret cannot be read", endpoint=str(endpoint.id))
            return None

    # --- sending and recording -----------------------------------------------------------------

    async def _deliver(self, claimed: Claimed) -> None:
        try:
            if claimed.secrets is None:
                result = AttemptResult(
                    outcome=AttemptOutcome.FAILED,
                    request_headers={},
                    started_at=utcnow(),
                    latency_ms=0,
                    error="the endpoint's signing secret cannot be read",
                )
            else:
                result = await self.sender.send(
                    OutgoingWebhook(
                        url=claimed.url,
                        message_id=str(claimed.event_id),
                        body=claimed.body,
                        secrets=claimed.secrets,
                    )
                )
        except Exception as error:
            log.exception("sending a webhook failed unexpectedly", delivery_id=str(claimed.id))
            result = AttemptResult(
                outcome=AttemptOutcome.FAILED,
                request_headers={},
                started_at=utcnow(),
                latency_ms=0,
                error=f"internal error: {type(error).__name__}",
            )
        WEBHOOK_ATTEMPT_LATENCY.labels(result.outcome.value).observe(result.latency_ms / 1000)
        try:
            recorded = await self._record(claimed, result)
        except Exception:
            # the lease runs out and the delivery is attempted again
            log.exception("recording a webhook attempt failed", delivery_id=str(claimed.id))
            return
        if recorded is None:
            return
        WEBHOOK_DELIVERIES.labels(recorded.outcome).inc()
        if recorded.outcome == WebhookDeliveryStatus.FAILED.value:
            try:
                await self.dead_letter(claimed.tenant_id, [claimed.id])
            except Exception:
                log.exception("dead-lettering a webhook failed", delivery_id=str(claimed.id))

    async def _record(self, claimed: Claimed, result: AttemptResult) -> Recorded | None:
        """The attempt and what it makes of its delivery and endpoint, in one transaction of a
        few plain statements (this runs once per attempt)."""
        now = utcnow()
        succeeded = result.outcome is AttemptOutcome.SUCCEEDED
        final = not succeeded and (result.gone or claimed.attempts >= claimed.max_attempts)
        if succeeded:
            changes = "status = :succeeded, succeeded_at = :now"
        elif final:
            changes = "status = :failed, failed_at = :now"
        else:
            changes = "status = :pending, next_attempt_at = :next"
        async with self.db.transaction(claimed.tenant_id) as session:
            held = (
                await session.execute(
                    text(
                        f"UPDATE webhook_deliveries SET {changes}, last_status_code = :status "
                        "WHERE tenant_id = :tenant AND id = :id AND status = :sending "
                        "AND last_attempt_at = :claimed_at RETURNING id"
                    ),
                    {
                        "succeeded": WebhookDeliveryStatus.SUCCEEDED.value,
                        "failed": WebhookDeliveryStatus.FAILED.value,
                        "pending": WebhookDeliveryStatus.PENDING.value,
                        "sending": WebhookDeliveryStatus.SENDING.value,
                        "now": now,
                        "next": now + self.schedule.wait_after(claimed.attempts),
                        "status": result.status_code,
                        "tenant": claimed.tenant_id,
                        "id": claimed.id,
                        "claimed_at": claimed.claimed_at,
                    },
                )
            ).first()
            if held is None:
                return None  # the lease ran out and another claim has the row now
            await session.execute(
                insert(WebhookAttempt).values(
                    tenant_id=claimed.tenant_id,
                    id=uuid.uuid4(),
                    delivery_id=claimed.id,
                    endpoint_id=claimed.endpoint_id,
                    attempt=claimed.attempts,
                    started_at=result.started_at,
                    url=claimed.url,
                    request_headers=dict(result.request_headers),
                    response_status=result.status_code,
                    response_body=result.response_body,
                    latency_ms=result.latency_ms,
                    outcome=result.outcome.value,
                    error=result.error,
                )
            )
            if succeeded:
                await session.execute(
                    text(
                        "UPDATE webhook_endpoints SET last_success_at = :now, "
                        "failing_since = NULL WHERE tenant_id = :tenant AND id = :id"
                    ),
                    {"now": now, "tenant": claimed.tenant_id, "id": claimed.endpoint_id},
                )
                return Recorded(WebhookDeliveryStatus.SUCCEEDED.value)
            if final:
                await publish(
                    session,
                    WebhookFailed(
                        endpoint_id=claimed.endpoint_id,
                        delivery_id=claimed.id,
                        event_id=claimed.event_id,
                        event_type=claimed.event_type,
                        attempts=claimed.attempts,
                        last_status_code=result.status_code,
                    ),
                    source_service=SERVICE,
                    subject=f"webhook-deliveries/{claimed.id}",
                    tenant_id=claimed.tenant_id,
                )
            # the first failure after a success marks the endpoint failing from now
            failing = (
                await session.execute(
                    text(
                        "UPDATE webhook_endpoints "
                        "SET failing_since = coalesce(failing_since, :now) "
                        "WHERE tenant_id = :tenant AND id = :id RETURNING enabled, failing_since"
                    ),
                    {"now": now, "tenant": claimed.tenant_id, "id": claimed.endpoint_id},
                )
            ).first()
            disabled = None
            if failing is not None and failing.enabled:
                too_long = timedelta(seconds=self.settings.webhook_disable_after_failing_seconds)
                if result.gone or now - failing.failing_since >= too_long:
                    endpoint = await session.scalar(
                        select(WebhookEndpoint)
                        .where(WebhookEndpoint.id == claimed.endpoint_id)
                        .with_for_update(key_share=True)
                    )
                    if endpoint is not None:
                        disabled = await self._disable(session, endpoint, result, now)
            return Recorded(
                WebhookDeliveryStatus.FAILED.value if final else "retried", disabled=disabled
            )

    async def _disable(
        self,
        session: AsyncSession,
        endpoint: WebhookEndpoint,
        result: AttemptResult,
        now: datetime,
    ) -> str:
        """Disable the endpoint (gone, or failing too long), publish it, tell its owners."""
        reason = EndpointDisabledReason.GONE if result.gone else EndpointDisabledReason.FAILING
        endpoint.enabled = False
        endpoint.disabled_reason = reason.value
        endpoint.disabled_at = now
        endpoint.updated_at = now
        endpoint.version += 1
        event = await publish(
            session,
            WebhookEndpointDisabled(endpoint_id=endpoint.id, reason=reason.value),
            source_service=SERVICE,
            subject=f"webhook-endpoints/{endpoint.id}",
            tenant_id=endpoint.tenant_id,
        )
        await tell_owners(session, endpoint, reason, source_event_id=event.id)
        await session.flush()
        log.warning(
            "webhook endpoint disabled",
            endpoint_id=str(endpoint.id),
            tenant_id=str(endpoint.tenant_id),
            reason=reason.value,
        )
        return reason.value

    # --- dead letters ------------------------------------------------------------------------

    async def dead_letter(self, tenant_id: uuid.UUID, delivery_ids: Sequence[uuid.UUID]) -> int:
        """Write these failed deliveries of one agency (each with its attempts and body) to
        the dead-letter topic, then mark them; answers how many were written."""
        if self._producer is None or not delivery_ids:
            return 0
        async with self.db.transaction(tenant_id) as session:
            deliveries = list(
                await session.scalars(
                    select(WebhookDelivery).where(
                        WebhookDelivery.id.in_(delivery_ids),
                        WebhookDelivery.status == WebhookDeliveryStatus.FAILED.value,
                        WebhookDelivery.dead_lettered_at.is_(None),
                    )
                )
            )
            attempts = list(
                await session.scalars(
                    select(WebhookAttempt)
                    .where(WebhookAttempt.delivery_id.in_([d.id for d in deliveries]))
                    .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
                )
            )
        if not deliveries:
            return 0
        by_delivery: dict[uuid.UUID, list[WebhookAttempt]] = defaultdict(list)
        for attempt in attempts:
            by_delivery[attempt.delivery_id].append(attempt)
        producer = await self._producer.get()
        for delivery in deliveries:
            await producer.send_and_wait(
                self.dead_letter_topic,
                value=json.dumps(
                    dead_letter_message(delivery, by_delivery[delivery.id]),
                    separators=(",", ":"),
                ).encode(),
                key=str(tenant_id).encode(),
            )
        async with self.db.transaction(tenant_id) as session:
            await session.execute(
                text(
                    "UPDATE webhook_deliveries SET dead_lettered_at = now() "
                    "WHERE id = ANY(:ids) AND dead_lettered_at IS NULL"
                ),
                {"ids": [d.id for d in deliveries]},
            )
        WEBHOOK_DEAD_LETTERED.inc(len(deliveries))
        return len(deliveries)

    async def sweep_dead_letters(self) -> int:
        """Dead-letter the failed deliveries that are not yet (Kafka was away)."""
        if self._producer is None:
            return 0
        async with self.db.transaction(None, settings={WEBHOOK_WORKER_SETTING: "on"}) as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT tenant_id, id FROM webhook_deliveries "
                        f"WHERE status = '{WebhookDeliveryStatus.FAILED.value}' "
                        "AND dead_lettered_at IS NULL "
                        "AND failed_at < now() - make_interval(secs => :grace) "
                        "ORDER BY tenant_id, failed_at LIMIT 500"
                    ),
                    {"grace": DEAD_LETTER_GRACE_SECONDS},
                )
            ).all()
        written = 0
        for tenant_id, group in groupby(rows, key=lambda r: r.tenant_id):
            written += await self.dead_letter(tenant_id, [r.id for r in group])
        return written

    async def report_backlog(self) -> None:
        async with self.db.transaction(None, settings={WEBHOOK_WORKER_SETTING: "on"}) as session:
            backlog = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e "
                        "ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id AND e.enabled "
                        f"WHERE {_due('d.')}"
                    )
                )
            ).scalar_one()
        WEBHOOK_BACKLOG.set(backlog)
