"""billing's settings: Stripe's key, address and webhook secret, the key that signs invoice
document links and the public address those links start with have development defaults that a
production start refuses."""

from __future__ import annotations

import pytest

from agencyos.billing.settings import BillingSettings
from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults

# What a production deployment sets (Stripe's own API: an empty base is the SDK's default).
PRODUCTION = {
    "stripe_api_key": "sk_live_realkey",
    "stripe_api_base": "",
    "stripe_webhook_secret": "whsec_real",
    "document_signing_key": "a-real-secret",
    "public_base_url": "https://api.example.com",
}


class TestDocumentSigningKey:
    def test_production_refuses_the_development_key_and_names_its_variable(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="DOCUMENT_SIGNING_KEY"):
            refuse_development_defaults(BillingSettings(environment="production"))

    @pytest.mark.parametrize(
        "left_at_default",
        [
            "stripe_api_key",
            "stripe_api_base",
            "stripe_webhook_secret",
            "document_signing_key",
            "public_base_url",
        ],
    )
    def test_production_refuses_each_development_default_and_names_it(
        self, left_at_default: str
    ) -> None:
        values = {k: v for k, v in PRODUCTION.items() if k != left_at_default}

        with pytest.raises(DevelopmentDefaultInProduction, match=left_at_default.upper()):
            refuse_development_defaults(BillingSettings(environment="production", **values))

    def test_production_starts_with_values_of_its_own(self) -> None:
        refuse_development_defaults(BillingSettings(environment="production", **PRODUCTION))

    def test_development_starts_with_the_default_key(self) -> None:
        refuse_development_defaults(BillingSettings())

    def test_links_last_sixty_days_on_the_gateway_by_default(self) -> None:
        settings = BillingSettings()

        assert settings.document_link_days == 60
        assert settings.public_base_url == "http://127.0.0.1:8080"
