"""`/v1/webhook-endpoints`: where the agency's events are sent (owners and admins), what was
sent to each, and sending again (a retry, a replay of a past window, a test ping)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.db import utcnow
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, service_context
from agencyos.notification.models import WebhookDeliveryStatus, WebhookEndpoint
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.permissions import WebhooksManage
from agencyos.notification.webhooks.schemas import (
    WebhookAttemptOut,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
    WebhookReplayQueued,
    WebhookReplayRequest,
    WebhookSecretRotated,
)
from agencyos.notification.webhooks.service import (
    DeliveryWithAttempts,
    rotation_ends_at,
    webhook_endpoint_service,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhook endpoints"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such webhook endpoint in your agency"}
}
_DELIVERY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such webhook endpoint, or no such delivery of it, in your agency"}
}
_FINISHED = (WebhookDeliveryStatus.SUCCEEDED.value, WebhookDeliveryStatus.FAILED.value)


def _settings(request: Request) -> NotificationSettings:
    settings = service_context(request).settings
    assert isinstance(settings, NotificationSettings)
    return settings


def _fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "disabled_at": endpoint.disabled_at,
        "failing_since": endpoint.failing_since,
        "last_success_at": endpoint.last_success_at,
        "secret_rotation_ends_at": rotation_ends_at(endpoint, utcnow()),
        "version": endpoint.version,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def _shown(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(**_fields(endpoint))


def _delivery(found: DeliveryWithAttempts) -> WebhookDeliveryOut:
    d = found.delivery
    return WebhookDeliveryOut(
        id=d.id,
        endpoint_id=d.endpoint_id,
        event_id=d.event_id,
        event_type=d.event_type,
        origin=d.origin,
        occurred_at=d.occurred_at,
        status=WebhookDeliveryStatus(d.status),
        attempts=d.attempts,
        max_attempts=d.max_attempts,
        next_attempt_at=None if d.status in _FINISHED else d.next_attempt_at,
        last_status_code=d.last_status_code,
        succeeded_at=d.succeeded_at,
        failed_at=d.failed_at,
        dead_lettered_at=d.dead_lettered_at,
        created_at=d.created_at,
        attempts_detail=[
            WebhookAttemptOut(
                attempt=a.attempt,
                started_at=a.started_at,
                url=a.url,
                request_headers={str(k): str(v) for k, v in (a.request_headers or {}).items()},
                response_status=a.response_status,
                response_body=a.response_body,
                latency_ms=a.latency_ms,
                outcome=a.outcome,
                error=a.error,
            )
            for a in found.attempts
        ],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointCreated,
    summary="Register a webhook endpoint",
    description=(
        "The answer carries the endpoint's signing `secret` (`whsec_…`): it is shown this "
        "once and never again (rotate it to get a new one). The URL must be https and point "
        "at a public address; `event_types` are exact types or prefixes (`billing.invoice.*`, "
        "`*`) of the types webhooks deliver."
    ),
    responses={
        422: {"description": "A refused URL (names `url`) or event type (names `event_types`)"}
    },
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    principal: WebhooksManage,
    session: TenantSession,
    request: Request,
    response: Response,
) -> WebhookEndpointCreated:
    endpoint, secret = await webhook_endpoint_service.create(
        session, principal, body, settings=_settings(request)
    )
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    response.headers["Cache-Control"] = "no-store"  # it carries the secret
    return WebhookEndpointCreated(**_fields(endpoint), secret=secret)


@router.get(
    "",
    response_model=Page[WebhookEndpointOut],
    summary="The agency's webhook endpoints, newest first",
)
async def list_webhook_endpoints(
    principal: WebhooksManage,
    session: TenantSession,
    pagination: Pagination,
    enabled: Annotated[
        bool | None, Query(description="only enabled (true) or disabled (false) endpoints")
    ] = None,
) -> Page[WebhookEndpointOut]:
    items, total = await webhook_endpoint_service.list_endpoints(
        session, pagination, enabled=enabled
    )
    return pagination.page_of([_shown(e) for e in items], total)


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="Get a webhook endpoint",
    responses=_NOT_FOUND,
)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: WebhooksManage, session: TenantSession
) -> WebhookEndpointOut:
    return _shown(await webhook_endpoint_service.get(session, endpoint_id))


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="Change a webhook endpoint's URL, event types or description",
    description="Only the fields sent change; `description: null` clears it.",
    responses={**_NOT_FOUND, 422: {"description": "A refused URL or event type"}},
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    principal: WebhooksManage,
    session: TenantSession,
    request: Request,
) -> WebhookEndpointOut:
    endpoint = await webhook_endpoint_service.update(
        session, principal, endpoint_id, body, settings=_settings(request)
    )
    return _shown(endpoint)


@router.delete(
    "/{endpoint_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a webhook endpoint, with its deliveries and their attempts",
    responses=_NOT_FOUND,
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: WebhooksManage, session: TenantSession
) -> Response:
    await webhook_endpoint_service.delete(session, principal, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/enable",
    response_model=WebhookEndpointOut,
    summary="Enable a webhook endpoint (deliveries go out again)",
    description="Clears `disabled_reason`, `disabled_at` and `failing_since`.",
    responses=_NOT_FOUND,
)
async def enable_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: WebhooksManage, session: TenantSession
) -> WebhookEndpointOut:
    return _shown(await webhook_endpoint_service.enable(session, principal, endpoint_id))


@router.post(
    "/{endpoint_id}/disable",
    response_model=WebhookEndpointOut,
    summary="Disable a webhook endpoint (nothing is sent until it is enabled)",
    description="`disabled_reason` becomes `manual` (an endpoint already disabled keeps its "
    "reason).",
    responses=_NOT_FOUND,
)
async def disable_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: WebhooksManage, session: TenantSession
) -> WebhookEndpointOut:
    return _shown(await webhook_endpoint_service.disable(session, principal, endpoint_id))


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=WebhookSecretRotated,
    summary="Give a webhook endpoint a new signing secret",
    description=(
        "The new `secret` is shown this once. Until `previous_secret_expires_at` every "
        "delivery carries a signature with each secret (space-separated in "
        "`webhook-signature`), so the receiver can switch at leisure."
    ),
    responses=_NOT_FOUND,
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    principal: WebhooksManage,
    session: TenantSession,
    request: Request,
    response: Response,
) -> WebhookSecretRotated:
    endpoint, secret = await webhook_endpoint_service.rotate_secret(
        session, principal, endpoint_id, settings=_settings(request)
    )
    response.headers["Cache-Control"] = "no-store"
    assert endpoint.previous_secret_expires_at is not None
    return WebhookSecretRotated(
        secret=secret, previous_secret_expires_at=endpoint.previous_secret_expires_at
    )


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[WebhookDeliveryOut],
    summary="What was sent to a webhook endpoint, newest first, with every attempt",
    responses=_NOT_FOUND,
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID,
    principal: WebhooksManage,
    session: TenantSession,
    pagination: Pagination,
    status_filter: Annotated[
        WebhookDeliveryStatus | None,
        Query(alias="status", description="only deliveries in this status"),
    ] = None,
    event_type: Annotated[
        str | None, Query(min_length=1, max_length=120, description="only this event type")
    ] = None,
) -> Page[WebhookDeliveryOut]:
    found, total = await webhook_endpoint_service.list_deliveries(
        session,
        endpoint_id,
        pagination,
        status=status_filter.value if status_filter else None,
        event_type=event_type,
    )
    return pagination.page_of([_delivery(d) for d in found], total)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=WebhookDeliveryOut,
    summary="One delivery of a webhook endpoint, with every attempt",
    responses=_DELIVERY_NOT_FOUND,
)
async def get_webhook_delivery(
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: WebhooksManage,
    session: TenantSession,
) -> WebhookDeliveryOut:
    return _delivery(await webhook_endpoint_service.get_delivery(session, endpoint_id, delivery_id))


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryOut,
    summary="Send a delivery again now (same webhook-id)",
    description=(
        "A finished delivery (succeeded or failed) gets one more attempt; a pending one is "
        "sent now instead of after its wait."
    ),
    responses={
        **_DELIVERY_NOT_FOUND,
        409: {"description": "The delivery is being sent right now, or the endpoint is disabled"},
    },
)
async def retry_webhook_delivery(
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    principal: WebhooksManage,
    session: TenantSession,
) -> WebhookDeliveryOut:
    return _delivery(await webhook_endpoint_service.retry(session, endpoint_id, delivery_id))


@router.post(
    "/{endpoint_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookReplayQueued,
    summary="Send a past window of events to a webhook endpoint again",
    description=(
        "Every event of the agency that happened in [`since`, `until`) and that this endpoint "
        "receives (only `event_types`, when given: within the endpoint's) is queued again, in "
        "event order, with its original id (`webhook-id`): receivers that dedupe on it see "
        "each event once. The window is at most the feed's retention (30 days) and ends no "
        "later than now; at most 10,000 events at once."
    ),
    responses={
        **_NOT_FOUND,
        409: {"description": "The endpoint is disabled"},
        422: {
            "description": "A bad window, event types outside the endpoint's, or too many "
            "events (narrow the window)"
        },
    },
)
async def replay_webhook_events(
    endpoint_id: uuid.UUID,
    body: WebhookReplayRequest,
    principal: WebhooksManage,
    session: TenantSession,
    request: Request,
) -> WebhookReplayQueued:
    replay_id, queued = await webhook_endpoint_service.replay(
        session, endpoint_id, body, settings=_settings(request)
    )
    return WebhookReplayQueued(replay_id=replay_id, queued=queued)


@router.post(
    "/{endpoint_id}/test",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=WebhookDeliveryOut,
    summary="Send a test event (`webhook.ping`) to a webhook endpoint",
    description="The delivery (origin `test`) is sent and recorded like any other.",
    responses={**_NOT_FOUND, 409: {"description": "The endpoint is disabled"}},
)
async def send_webhook_test_event(
    endpoint_id: uuid.UUID, principal: WebhooksManage, session: TenantSession, request: Request
) -> WebhookDeliveryOut:
    return _delivery(
        await webhook_endpoint_service.test(session, endpoint_id, settings=_settings(request))
    )
