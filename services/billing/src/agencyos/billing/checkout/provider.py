"""Where invoices are paid online: a small interface and its Stripe implementation (the
official SDK; stripe-mock locally and in tests, chosen by `stripe_api_base`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

import stripe
from fastapi import Request

from agencyos.billing.settings import BillingSettings
from agencyos.common.errors import ServiceUnavailable
from agencyos.common.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class CustomerDetails:
    tenant_id: uuid.UUID
    client_id: uuid.UUID
    name: str
    email: str | None = None
    address_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class CheckoutRequest:
    tenant_id: uuid.UUID
    invoice_id: uuid.UUID
    customer_id: str
    amount_cents: int
    currency: str
    product_name: str
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    # The agency's slug, for the return addresses (the client portal's invoice page).
    agency_slug: str = ""


@dataclass(frozen=True)
class CheckoutLink:
    session_id: str
    url: str


class PaymentProvider(Protocol):
    async def create_customer(self, details: CustomerDetails) -> str:
        """The provider's id for a new customer made for this CRM client."""

    async def create_checkout(self, checkout: CheckoutRequest) -> CheckoutLink:
        """A hosted payment page for one invoice's total."""

    async def expire_checkout(self, session_id: str) -> None:
        """Close a payment page nobody must use (its invoice was not sent after all)."""


def _return_url(template: str, checkout: CheckoutRequest) -> str:
    """Where Stripe sends the payer back: `{invoice_id}` and `{agency_slug}` filled in."""
    return template.replace("{invoice_id}", str(checkout.invoice_id)).replace(
        "{agency_slug}", checkout.agency_slug
    )


def _unavailable(what: str, exc: stripe.StripeError) -> ServiceUnavailable:
    log.warning("stripe call failed", call=what, error=repr(exc))
    return ServiceUnavailable(f"the payment provider could not {what}; nothing was changed")


class StripeProvider:
    def __init__(self, settings: BillingSettings) -> None:
        self.settings = settings
        options: dict[str, Any] = {
            "http_client": stripe.HTTPXClient(timeout=settings.stripe_timeout_seconds),
            # stripe-mock answers at once or not at all; against Stripe, retries are safe
            # because every create carries an idempotency key
            "max_network_retries": 0 if settings.stripe_api_base else 2,
        }
        if settings.stripe_api_base:
            options["base_addresses"] = {"api": settings.stripe_api_base}
        self.client = stripe.StripeClient(settings.stripe_api_key, **options)

    async def create_customer(self, details: CustomerDetails) -> str:
        params: dict[str, Any] = {
            "name": details.name,
            "metadata": {"tenant_id": str(details.tenant_id), "client_id": str(details.client_id)},
        }
        if details.email:
            params["email"] = details.email
        if details.address_lines:
            params["address"] = {"line1": ", ".join(details.address_lines)[:200]}
        try:
            customer = await self.client.v1.customers.create_async(
                params=params,  # type: ignore[arg-type]
                # one Stripe customer per CRM client even when two sends race
                options={"idempotency_key": f"agencyos-customer-{details.client_id}"},
            )
        except stripe.StripeError as exc:
            raise _unavailable("create the customer", exc) from exc
        return str(customer.id)

    async def create_checkout(self, checkout: CheckoutRequest) -> CheckoutLink:
        invoice = str(checkout.invoice_id)
        metadata = {"invoice_id": invoice, "tenant_id": str(checkout.tenant_id)}
        product: dict[str, Any] = {"name": checkout.product_name}
        if checkout.description:
            product["description"] = checkout.description
        params: dict[str, Any] = {
            "mode": "payment",
            "customer": checkout.customer_id,
            "client_reference_id": invoice,
            "metadata": {**checkout.metadata, **metadata},
            "payment_intent_data": {"metadata": {**checkout.metadata, **metadata}},
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": checkout.currency.lower(),
                        "unit_amount": checkout.amount_cents,
                        "product_data": product,
                    },
                }
            ],
            "success_url": _return_url(self.settings.checkout_success_url, checkout),
            "cancel_url": _return_url(self.settings.checkout_cancel_url, checkout),
        }
        try:
            session = await self.client.v1.checkout.sessions.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"agencyos-checkout-{uuid.uuid4()}"},
            )
        except stripe.StripeError as exc:
            raise _unavailable("create the payment page", exc) from exc
        if not session.url:
            raise ServiceUnavailable("the payment provider returned no payment page URL")
        return CheckoutLink(session_id=str(session.id), url=str(session.url))

    async def expire_checkout(self, session_id: str) -> None:
        try:
            await self.client.v1.checkout.sessions.expire_async(session_id)
        except stripe.StripeError as exc:
            # Best effort: an unpaid session also expires on its own (24 hours).
            log.warning("expiring a checkout session failed", session=session_id, error=repr(exc))


def payment_provider(request: Request) -> PaymentProvider:
    """The process's one provider (made on first use, kept on the app)."""
    state = request.app.state
    provider: PaymentProvider | None = getattr(state, "payment_provider", None)
    if provider is None:
        provider = StripeProvider(request.app.state.ctx.settings)
        state.payment_provider = provider
    return provider
