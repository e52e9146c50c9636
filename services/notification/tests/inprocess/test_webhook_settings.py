"""Notification's webhook settings: production never sends over plain http nor inside."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agencyos.notification.settings import NotificationSettings


class TestProduction:
    @pytest.mark.parametrize(
        "unsafe",
        [
            {"webhook_allow_http": True},
            {"webhook_allowed_private_networks": ["10.0.0.0/8"]},
            {"webhook_allow_http": True, "webhook_allowed_private_networks": ["127.0.0.0/8"]},
        ],
        ids=["http", "private-networks", "both"],
    )
    def test_refuses_to_start_with_http_or_private_destinations(
        self, unsafe: dict[str, object]
    ) -> None:
        with pytest.raises(ValidationError) as refused:
            NotificationSettings(environment="production", **unsafe)  # type: ignore[arg-type]

        assert "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOW_HTTP" in str(refused.value)

    def test_refuses_them_from_the_environment_too(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AGENCYOS_NOTIFICATION_ENVIRONMENT", "Production")
        monkeypatch.setenv("AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS", '["::1/128"]')

        with pytest.raises(ValidationError):
            NotificationSettings()

    def test_starts_with_https_to_public_destinations_only(self) -> None:
        settings = NotificationSettings(environment="production")

        assert settings.webhook_allow_http is False
        assert settings.webhook_allowed_private_networks == []

    def test_development_may_allow_both(self) -> None:
        settings = NotificationSettings(
            webhook_allow_http=True, webhook_allowed_private_networks=["127.0.0.0/8", "::1/128"]
        )

        assert settings.webhook_allow_http is True
