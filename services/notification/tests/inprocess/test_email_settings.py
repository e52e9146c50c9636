"""Notification's email settings: development defaults never reach production."""

from __future__ import annotations

import pytest

from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.notification.settings import NotificationSettings


class TestProduction:
    def test_refuses_the_local_smtp_server_and_public_url(self) -> None:
        settings = NotificationSettings(environment="production")

        with pytest.raises(DevelopmentDefaultInProduction) as refused:
            refuse_development_defaults(settings)

        assert "AGENCYOS_NOTIFICATION_SMTP_HOST" in str(refused.value)
        assert "AGENCYOS_NOTIFICATION_PUBLIC_BASE_URL" in str(refused.value)

    def test_starts_with_a_real_smtp_server_and_public_url(self) -> None:
        settings = NotificationSettings(
            environment="production",
            smtp_host="smtp.example.com",
            public_base_url="https://app.example.com",
            unsubscribe_signing_key="s3cret",
            webhook_secret_key="an0ther-s3cret",
            service_credential="a-th1rd-s3cret",
        )

        refuse_development_defaults(settings)
