"""billing's settings: the key that signs invoice document links and the public address those
links start with have development defaults that a production start refuses."""

from __future__ import annotations

import pytest

from agencyos.billing.settings import BillingSettings
from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults


class TestDocumentSigningKey:
    def test_production_refuses_the_development_key_and_names_its_variable(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="DOCUMENT_SIGNING_KEY"):
            refuse_development_defaults(BillingSettings(environment="production"))

    def test_production_refuses_the_local_public_address(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="BILLING_PUBLIC_BASE_URL"):
            refuse_development_defaults(
                BillingSettings(environment="production", document_signing_key="a-real-secret")
            )

    def test_production_starts_with_a_key_and_an_address_of_its_own(self) -> None:
        refuse_development_defaults(
            BillingSettings(
                environment="production",
                document_signing_key="a-real-secret",
                public_base_url="https://api.example.com",
            )
        )

    def test_development_starts_with_the_default_key(self) -> None:
        refuse_development_defaults(BillingSettings())

    def test_links_last_sixty_days_on_the_gateway_by_default(self) -> None:
        settings = BillingSettings()

        assert settings.document_link_days == 60
        assert settings.public_base_url == "http://127.0.0.1:8080"
