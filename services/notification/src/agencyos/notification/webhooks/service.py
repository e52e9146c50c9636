"""Webhook endpoints' business rules: what an endpoint may point at and subscribe to, its
secrets, and the deliveries a person asks for (a retry, a replay of past events, a test ping).
Sending them is the dispatcher's."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.destinations import RefusedDestination
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_error, field_problem
from agencyos.common.events import CloudEvent
from agencyos.common.pagination import PageParams
from agencyos.notification.models import (
    EndpointDisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.deliveries import (
    PING_TYPE,
    TEST,
    attempts_allowed,
    create_delivery,
    deliverable,
    deliverable_types,
    subscribed,
)
from agencyos.notification.webhooks.repository import (
    create_deliveries,
    delivery_repository,
    endpoint_repository,
    recorded_events,
)
from agencyos.notification.webhooks.schemas import (
    WebhookEndpointCreate,
    WebhookEndpointUpdate,
    WebhookReplayRequest,
)
from agencyos.notification.webhooks.secrets import new_secret, seal

# One replay queues at most this many deliveries; a wider window is refused (narrow it, or
# replay it in parts).
SERVICE = "notification"
MAX_REPLAY_EVENTS = 10_000
PING_SOURCE = "/agencyos/notification"
PING_SCHEMA = "https://agencyos.dev/schemas/events/webhook.ping/v1"
_TYPE_ITEM = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?$|^\*$")
_FINISHED = (WebhookDeliveryStatus.SUCCEEDED.value, WebhookDeliveryStatus.FAILED.value)


def _covered(item: str) -> list[str]:
    """The deliverable types an item of `event_types` stands for (exact, prefix or `*`)."""
    if item == "*":
        return deliverable_types()
    if item.endswith(".*"):
        prefix = item[:-1]
        return [t for t in deliverable_types() if t.startswith(prefix)]
    return [item] if deliverable(item) else []


def checked_event_types(items: Sequence[str], field: str = "event_types") -> list[str]:
    """`items` without duplicates (first occurrence kept), each an event type webhooks
    deliver or a prefix of at least one; else InvalidInput naming every refused item."""
    problems: list[dict[str, str]] = []
    kept: list[str] = []
    for index, item in enumerate(items):
        if not _TYPE_ITEM.match(item):
            problems.append(
                field_problem(
                    field,
                    f"item {index} ({item!r}) is not an event type or a prefix such as "
                    "'billing.invoice.*'",
                    "event_type_format",
                )
            )
        elif not _covered(item):
            what = "matches no event type" if item.endswith(".*") else "is not an event type"
            problems.append(
                field_problem(
                    field,
                    f"item {index} ({item!r}) {what} webhooks deliver",
                    "unknown_event_type",
                )
            )
        elif item not in kept:
            kept.append(item)
    if problems:
        raise InvalidInput(
            f"invalid {field}: " + "; ".join(p["message"] for p in problems), errors=problems
        )
    return kept


def checked_url(url: str, settings: NotificationSettings) -> str:
    try:
        return settings.webhook_destination_policy().parse(url).url
    except RefusedDestination as refused:
        raise field_error("url", str(refused), "refused_destination") from None


def _in_utc(moment: datetime, field: str) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise field_error(field, f"{field} is out of range") from None


@dataclass(frozen=True)
class DeliveryWithAttempts:
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


_AUDITED_FIELDS = ("url", "event_types", "description", "enabled")


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """Where an endpoint sends the agency's events, and which (never its secret)."""
    return {name: getattr(endpoint, name) for name in _AUDITED_FIELDS}


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    endpoint: WebhookEndpoint,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    await record_audit(
        session,
        action=action,
        entity_type="webhook_endpoint",
        entity_id=endpoint.id,
        actor=principal,
        source_service=SERVICE,
        before=before,
        after=after,
        detail=detail,
    )


class WebhookEndpointService:
    # --- endpoints --------------------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        data: WebhookEndpointCreate,
        *,
        settings: NotificationSettings,
    ) -> tuple[WebhookEndpoint, str]:
        """The new endpoint and its secret (in plain text, for the caller to show once)."""
        url = checked_url(data.url, settings)
        event_types = checked_event_types(data.event_types)
        now = utcnow()
        endpoint = WebhookEndpoint(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            url=url,
            description=data.description or None,
            event_types=event_types,
            enabled=data.enabled,
            disabled_reason=None if data.enabled else EndpointDisabledReason.MANUAL.value,
            disabled_at=None if data.enabled else now,
            created_by=principal.user_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        secret = new_secret()
        endpoint.secret_ciphertext = seal(endpoint, secret, key=settings.webhook_secret_key)
        await endpoint_repository.create(session, endpoint)
        await _audit(
            session, principal, "webhook_endpoint.created", endpoint, after=_audited(endpoint)
        )
        return endpoint, secret

    async def list_endpoints(
        self, session: AsyncSession, params: PageParams, *, enabled: bool | None = None
    ) -> tuple[Sequence[WebhookEndpoint], int]:
        return await endpoint_repository.paginate(
            session,
            endpoint_repository.listing(enabled=enabled),
            page=params.page,
            per_page=params.per_page,
        )

    async def get(self, session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        endpoint = await endpoint_repository.get(session, endpoint_id)
        if endpoint is None:
            raise NotFound("no such webhook endpoint")
        return endpoint

    async def _locked(self, session: AsyncSession, endpoint_id: uuid.UUID) -> WebhookEndpoint:
        endpoint = await endpoint_repository.get_for_update(session, endpoint_id)
        if endpoint is None:
            raise NotFound("no such webhook endpoint")
        return endpoint

    async def _apply(
        self, session: AsyncSession, endpoint: WebhookEndpoint, changes: dict[str, Any]
    ) -> WebhookEndpoint:
        changes = {k: v for k, v in changes.items() if getattr(endpoint, k) != v}
        if not changes:
            return endpoint
        changes["version"] = endpoint.version + 1
        changes["updated_at"] = utcnow()
        return await endpoint_repository.update(session, endpoint, changes)

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        endpoint_id: uuid.UUID,
        data: WebhookEndpointUpdate,
        *,
        settings: NotificationSettings,
    ) -> WebhookEndpoint:
        sent = data.model_dump(exclude_unset=True)
        changes: dict[str, Any] = {}
        if sent.get("url") is not None:
            changes["url"] = checked_url(sent["url"], settings)
        if sent.get("event_types") is not None:
            changes["event_types"] = checked_event_types(sent["event_types"])
        if "description" in sent:
            changes["description"] = sent["description"] or None
        endpoint = await self._locked(session, endpoint_id)
        before = _audited(endpoint)
        endpoint = await self._apply(session, endpoint, changes)
        if _audited(endpoint) != before:
            await _audit(
                session,
                principal,
                "webhook_endpoint.updated",
                endpoint,
                before=before,
                after=_audited(endpoint),
            )
        return endpoint

    async def delete(
        self, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
    ) -> None:
        endpoint = await self._locked(session, endpoint_id)
        before = _audited(endpoint)
        await endpoint_repository.delete(session, endpoint)
        await _audit(session, principal, "webhook_endpoint.deleted", endpoint, before=before)

    async def enable(
        self, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        """Deliveries go out again; the failing clock starts afresh."""
        endpoint = await self._locked(session, endpoint_id)
        if not endpoint.enabled:
            await _audit(
                session,
                principal,
                "webhook_endpoint.enabled",
                endpoint,
                before={"enabled": False},
                after={"enabled": True},
                detail={"disabled_reason": endpoint.disabled_reason},
            )
        return await self._apply(
            session,
            endpoint,
            {"enabled": True, "disabled_reason": None, "disabled_at": None, "failing_since": None},
        )

    async def disable(
        self, session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
    ) -> WebhookEndpoint:
        """Nothing is sent until it is enabled again. An endpoint already disabled (by the
        dispatcher: gone, failing) keeps its reason."""
        endpoint = await self._locked(session, endpoint_id)
        if not endpoint.enabled:
            return endpoint
        await _audit(
            session,
            principal,
            "webhook_endpoint.disabled",
            endpoint,
            before={"enabled": True},
            after={"enabled": False},
        )
        return await self._apply(
            session,
            endpoint,
            {
                "enabled": False,
                "disabled_reason": EndpointDisabledReason.MANUAL.value,
                "disabled_at": utcnow(),
            },
        )

    async def rotate_secret(
        self,
        session: AsyncSession,
        principal: Principal,
        endpoint_id: uuid.UUID,
        *,
        settings: NotificationSettings,
    ) -> tuple[WebhookEndpoint, str]:
        """A new secret signs from now on; the current one keeps signing next to it for
        `webhook_secret_rotation_grace_seconds`. A secret still in its grace from an earlier
        rotation stops now (two at most)."""
        endpoint = await self._locked(session, endpoint_id)
        secret = new_secret()
        now = utcnow()
        await endpoint_repository.update(
            session,
            endpoint,
            {
                "previous_secret_ciphertext": endpoint.secret_ciphertext,
                "previous_secret_expires_at": now
                + timedelta(seconds=settings.webhook_secret_rotation_grace_seconds),
                "secret_ciphertext": seal(endpoint, secret, key=settings.webhook_secret_key),
                "version": endpoint.version + 1,
                "updated_at": now,
            },
        )
        # That it changed, and how long the old one still signs; never either secret.
        await _audit(
            session,
            principal,
            "webhook_endpoint.secret_rotated",
            endpoint,
            detail={
                "secret_changed": True,
                "previous_secret_grace_seconds": settings.webhook_secret_rotation_grace_seconds,
            },
        )
        return endpoint, secret

    # --- deliveries -------------------------------------------------------------------------

    async def list_deliveries(
        self,
        session: AsyncSession,
        endpoint_id: uuid.UUID,
        params: PageParams,
        *,
        status: str | None = None,
        event_type: str | None = None,
    ) -> tuple[list[DeliveryWithAttempts], int]:
        await self.get(session, endpoint_id)
        deliveries, total = await delivery_repository.paginate(
            session,
            delivery_repository.listing(endpoint_id, status=status, event_type=event_type),
            page=params.page,
            per_page=params.per_page,
        )
        attempts = await delivery_repository.attempts_of(session, [d.id for d in deliveries])
        return [DeliveryWithAttempts(d, attempts[d.id]) for d in deliveries], total

    async def get_delivery(
        self, session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> DeliveryWithAttempts:
        delivery = await delivery_repository.of_endpoint(session, endpoint_id, delivery_id)
        if delivery is None:
            raise NotFound("no such delivery of this webhook endpoint")
        return await self._with_attempts(session, delivery)

    async def _with_attempts(
        self, session: AsyncSession, delivery: WebhookDelivery
    ) -> DeliveryWithAttempts:
        attempts = await delivery_repository.attempts_of(session, [delivery.id])
        return DeliveryWithAttempts(delivery, attempts[delivery.id])

    def _must_be_enabled(self, endpoint: WebhookEndpoint, what: str) -> None:
        if not endpoint.enabled:
            raise Conflict(
                f"this webhook endpoint is disabled ({endpoint.disabled_reason}): enable it "
                f"before {what}"
            )

    async def retry(
        self, session: AsyncSession, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
    ) -> DeliveryWithAttempts:
        """Send a delivery again now, with the same `webhook-id`: a finished one gets one more
        attempt; a pending one stops waiting. One being sent right now is a 409."""
        endpoint = await self.get(session, endpoint_id)
        delivery = await delivery_repository.of_endpoint(
            session, endpoint_id, delivery_id, for_update=True
        )
        if delivery is None:
            raise NotFound("no such delivery of this webhook endpoint")
        self._must_be_enabled(endpoint, "retrying its deliveries")
        now = utcnow()
        if delivery.status == WebhookDeliveryStatus.SENDING.value:
            raise Conflict("this delivery is being sent right now; look again in a moment")
        changes: dict[str, Any] = {"next_attempt_at": now}
        if delivery.status in _FINISHED:
            changes.update(
                status=WebhookDeliveryStatus.PENDING.value,
                max_attempts=delivery.attempts + 1,
                succeeded_at=None,
                failed_at=None,
                dead_lettered_at=None,
            )
        await delivery_repository.update(session, delivery, changes)
        return await self._with_attempts(session, delivery)

    async def replay(
        self,
        session: AsyncSession,
        endpoint_id: uuid.UUID,
        request: WebhookReplayRequest,
        *,
        settings: NotificationSettings,
    ) -> tuple[uuid.UUID, int]:
        """Queue again, with their original ids, the agency's events of [since, until) that
        this endpoint receives (and of `event_types`, when given), in event order. Answers the
        replay's id and how many deliveries were queued."""
        endpoint = await self.get(session, endpoint_id)
        now = utcnow()
        since, until = _in_utc(request.since, "since"), _in_utc(request.until, "until")
        retention = timedelta(days=settings.feed_retention_days)
        if until > now:
            raise field_error("until", "until must not be in the future")
        if since >= until:
            raise field_error("since", "since must be before until")
        if until - since > retention:
            raise field_error(
                "since",
                f"the window is at most {settings.feed_retention_days} days (how long events "
                "are kept)",
            )
        types = [t for t in deliverable_types() if subscribed(endpoint.event_types, t)]
        if request.event_types is not None:
            asked = checked_event_types(request.event_types, "event_types")
            outside = [item for item in asked if not set(_covered(item)) <= set(types)]
            if outside:
                raise field_error(
                    "event_types",
                    "not within this endpoint's event types: " + ", ".join(outside),
                    "not_subscribed",
                )
            types = [t for t in types if subscribed(asked, t)]
        self._must_be_enabled(endpoint, "replaying events to it")
        events = await recorded_events(
            session,
            since=since,
            until=until,
            types=types,
            limit=MAX_REPLAY_EVENTS + 1,
        )
        if len(events) > MAX_REPLAY_EVENTS:
            raise field_error(
                "since",
                f"more than {MAX_REPLAY_EVENTS} events in this window: replay a narrower one "
                "(or fewer event_types)",
                "too_many_events",
            )
        replay_id = uuid.uuid4()
        queued = await create_deliveries(
            session,
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.id,
            events=events,
            origin=f"replay:{replay_id}",
            max_attempts=attempts_allowed(settings.webhook_retry_seconds),
        )
        return replay_id, queued

    async def test(
        self, session: AsyncSession, endpoint_id: uuid.UUID, *, settings: NotificationSettings
    ) -> DeliveryWithAttempts:
        """A `webhook.ping` for this endpoint alone, sent like any delivery (origin `test`)."""
        endpoint = await self.get(session, endpoint_id)
        self._must_be_enabled(endpoint, "testing it")
        ping = CloudEvent(
            source=PING_SOURCE,
            type=PING_TYPE,
            dataschema=PING_SCHEMA,
            tenantid=endpoint.tenant_id,
            data={
                "endpoint_id": str(endpoint.id),
                "message": "A test event from AgencyOS: this endpoint is reachable.",
            },
        )
        delivery_id = await create_delivery(
            session,
            tenant_id=endpoint.tenant_id,
            endpoint_id=endpoint.id,
            envelope=ping.model_dump(mode="json", exclude_none=True),
            origin=TEST,
            max_attempts=attempts_allowed(settings.webhook_retry_seconds),
            occurred_at=ping.time,
        )
        assert delivery_id is not None  # a new event id: never there before
        return await self.get_delivery(session, endpoint.id, delivery_id)


def rotation_ends_at(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    """When the previous secret stops signing, while it still does."""
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext is None or expires is None or expires <= now:
        return None
    return expires


webhook_endpoint_service = WebhookEndpointService()
