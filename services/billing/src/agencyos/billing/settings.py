from typing import ClassVar

from agencyos.common.settings import ServiceSettings, service_config


class BillingSettings(ServiceSettings):
    service_name = "billing"
    model_config = service_config("billing")
    # Local defaults a production start refuses (Stripe's test key, stripe-mock's address and
    # the local webhook secret included).
    development_secrets: ClassVar[tuple[str, ...]] = (
        "stripe_api_key",
        "stripe_api_base",
        "stripe_webhook_secret",
        "document_signing_key",
        "public_base_url",
    )

    # Stripe (the official SDK). Locally and in tests the API is stripe-mock
    # (deploy/local/stack.sh starts it); in production leave stripe_api_base empty.
    # stripe-mock accepts only keys shaped like sk_test_<letters and digits> (no "_" after it)
    stripe_api_key: str = "sk_test_agencyoslocal"
    stripe_api_base: str = "http://127.0.0.1:12111"
    # Verifies `Stripe-Signature` on POST /v1/webhooks/stripe
    # (AGENCYOS_BILLING_STRIPE_WEBHOOK_SECRET); the local default is for development only.
    stripe_webhook_secret: str = "whsec_agencyos_local_development_only"
    stripe_webhook_tolerance_seconds: int = 300
    stripe_timeout_seconds: float = 10.0
    # Where Stripe Checkout sends the payer afterwards: the client portal's invoice page
    # ({agency_slug} and {invoice_id} are filled in), on the gateway's public address.
    checkout_success_url: str = (
        "http://127.0.0.1:8080/portal/{agency_slug}/invoices/{invoice_id}?paid=1"
    )
    checkout_cancel_url: str = "http://127.0.0.1:8080/portal/{agency_slug}/invoices/{invoice_id}"

    # The overdue and reminder scheduler (worker mode): how often it looks, and the
    # advisory-lock key that keeps one replica active at a time.
    scheduler_interval_seconds: float = 60.0
    scheduler_lock_key: int = 7_305_001

    # Signed links to a sent invoice's PDF that need no login (emailed to the client):
    # HMAC-SHA256 with this key (AGENCYOS_BILLING_DOCUMENT_SIGNING_KEY; the default is for
    # local development only, a production start refuses it), valid this many days, on this
    # public address (the gateway's).
    document_signing_key: str = "agencyos-local-invoice-document-links-development-only"
    document_link_days: int = 60
    public_base_url: str = "http://127.0.0.1:8080"
