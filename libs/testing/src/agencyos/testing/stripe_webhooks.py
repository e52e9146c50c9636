"""Stripe webhooks in tests: events shaped like Stripe's own (objects taken from stripe-mock's
fixtures, then filled in with the test's ids and amounts) and signed exactly as Stripe signs
them — `Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` —
with the run's real webhook secret. stripe-mock sends no webhooks of its own."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import httpx

# stripe-mock accepts any test key
MOCK_API_KEY = "sk_test_123"

_fixtures: dict[tuple[str, str], dict[str, Any]] = {}


async def stripe_object(api_base: str, resource: str) -> dict[str, Any]:
    """A fresh copy of stripe-mock's fixture for `resource` (e.g. `checkout/sessions`,
    `payment_intents`, `charges`): every field a real object has, with placeholder values."""
    key = (api_base, resource)
    if key not in _fixtures:
        async with httpx.AsyncClient(base_url=api_base, timeout=10.0) as client:
            response = await client.get(
                f"/v1/{resource}/fixture_{uuid.uuid4().hex[:6]}",
                headers={"Authorization": f"Bearer {MOCK_API_KEY}"},
            )
        response.raise_for_status()
        _fixtures[key] = response.json()
    return copy.deepcopy(_fixtures[key])


def stripe_id(prefix: str) -> str:
    return f"{prefix}_test{uuid.uuid4().hex[:20]}"


def stripe_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A webhook event (API object `event`) carrying `obj`, as Stripe delivers it."""
    return {
        "id": event_id or stripe_id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": created if created is not None else int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send for `payload`."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def signed_request(
    event: dict[str, Any], secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's POST delivering `event`."""
    body = json.dumps(event, indent=2).encode()
    return body, {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, secret, timestamp),
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    }
