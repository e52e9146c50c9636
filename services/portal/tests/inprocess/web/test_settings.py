"""The portal's settings for its pages: the service credential and the public address forms
must come from have development defaults a production start refuses; the session cookie is
Secure outside development."""

from __future__ import annotations

import pytest

from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.portal.settings import PortalSettings

PRODUCTION = {
    "service_credential": "a-real-credential",
    "public_base_url": "https://api.example.com",
}


class TestProductionDefaults:
    @pytest.mark.parametrize("left_at_default", sorted(PRODUCTION))
    def test_production_refuses_each_development_default_and_names_it(
        self, left_at_default: str
    ) -> None:
        values = {k: v for k, v in PRODUCTION.items() if k != left_at_default}

        with pytest.raises(DevelopmentDefaultInProduction, match=left_at_default.upper()):
            refuse_development_defaults(PortalSettings(environment="production", **values))

    def test_production_starts_with_its_own_values(self) -> None:
        refuse_development_defaults(PortalSettings(environment="production", **PRODUCTION))


class TestCookieSecure:
    @pytest.mark.parametrize(
        ("environment", "override", "secure"),
        [
            ("development", None, False),
            ("production", None, True),
            ("staging", None, True),
            ("production", False, False),
            ("development", True, True),
        ],
    )
    def test_the_cookie_is_secure_outside_development_unless_told(
        self, environment: str, override: bool | None, secure: bool
    ) -> None:
        settings = PortalSettings(environment=environment, web_cookie_secure=override)

        assert settings.cookie_secure is secure
