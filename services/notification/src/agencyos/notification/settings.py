from typing import ClassVar

from agencyos.common.settings import ServiceSettings, service_config


class NotificationSettings(ServiceSettings):
    service_name = "notification"
    model_config = service_config("notification")
    development_secrets: ClassVar[tuple[str, ...]] = ("unsubscribe_signing_key",)

    # Where people reach the platform (the gateway): links in emails start with it.
    public_base_url: str = "http://127.0.0.1:8080"
    # Signs the unsubscribe link in every email (HMAC-SHA256 over agency, person and kind);
    # AGENCYOS_NOTIFICATION_UNSUBSCRIBE_SIGNING_KEY. Changing it breaks the links already sent.
    unsubscribe_signing_key: str = "agencyos-unsubscribe-local-development-only"
