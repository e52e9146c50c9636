from typing import ClassVar, Self

from pydantic import Field, model_validator

from agencyos.common.destinations import DestinationPolicy
from agencyos.common.settings import ServiceSettings, service_config


class NotificationSettings(ServiceSettings):
    service_name = "notification"
    model_config = service_config("notification")
    # Local defaults that must never reach production (the SMTP sink and the local gateway;
    # the service credential asks identity for automation authors' tokens).
    development_secrets: ClassVar[tuple[str, ...]] = (
        "smtp_host",
        "public_base_url",
        "unsubscribe_signing_key",
        "webhook_secret_key",
        "service_credential",
    )

    # Where people reach AgencyOS (the gateway): every link in every email starts with it.
    public_base_url: str = "http://127.0.0.1:8080"
    # Where clients reach the client portal's pages (`<portal_base_url>/portal/<slug>/...`):
    # invoice emails link to the invoice's page there, a client user's sign-in email to its
    # sign-in page. Empty: the public base URL (the gateway serves the portal's pages too).
    # Shared as AGENCYOS_PORTAL_BASE_URL with the other services that link to the portal.
    portal_base_url: str = ""
    # Signs the unsubscribe link in every email (HMAC-SHA256 over agency, person and kind);
    # AGENCYOS_NOTIFICATION_UNSUBSCRIBE_SIGNING_KEY. Changing it breaks the links already sent.
    unsubscribe_signing_key: str = "agencyos-unsubscribe-local-development-only"

    # SMTP (mailpit in the local stack)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    # STARTTLS after connecting in plain text (port 587), or TLS from the start (port 465)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_seconds: float = 30.0
    # The address emails come from; the display name is replaced by the agency's name.
    email_from: str = "AgencyOS <no-reply@agencyos.localhost>"

    # Delivery worker
    email_poll_seconds: float = 1.0
    email_batch_size: int = 50
    email_concurrency: int = 10
    # Waits after the 1st, 2nd, ... temporary failure (the last one repeats), each with up
    # to a fifth added at random so a burst of failures does not retry in lockstep.
    email_retry_seconds: list[float] = [30, 120, 600, 1800, 3600, 7200, 14400]
    email_max_attempts: int = 8
    # A row being sent is leased for this long; a worker that died mid-send loses it after.
    email_sending_lease_seconds: float = 300.0
    email_attachment_timeout_seconds: float = 30.0

    # Digests (worker mode): how often the worker looks, the local hour (in each agency's
    # time zone) the daily and Monday's weekly digests go out from, and its leader lock.
    digest_poll_seconds: float = 60.0
    digest_hour: int = Field(default=8, ge=0, le=23)
    digest_lock_key: int = 7_305_101

    # The feed recorder (worker `feed`): how long one fetch waits for events when there are
    # none, how many events it takes at most, how many agencies' transactions run at once,
    # and how it retries an agency's batch that fails (doubling waits from the first).
    feed_poll_seconds: float = 0.05
    feed_batch_size: int = Field(default=500, ge=1, le=5000)
    feed_concurrency: int = Field(default=4, ge=1, le=32)
    feed_max_attempts: int = Field(default=5, ge=1)
    feed_retry_backoff_seconds: float = 0.2
    # Feed retention: events older than this are deleted (a cursor before them answers 410),
    # by one leader every `feed_retention_interval_seconds`.
    feed_retention_days: int = Field(default=30, ge=1)
    feed_retention_interval_seconds: float = 3600.0
    feed_retention_lock_key: int = 7_305_102

    # Live stream (`GET /v1/stream`): a `: heartbeat` comment this often, so proxies and
    # clients see the connection alive (well below the gateway's stream read timeout); the
    # events a connection may have waiting before it counts as too slow and is closed; how
    # many events one read of the feed catches a resuming connection up by.
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    stream_queue_size: int = Field(default=1000, ge=1)
    # How often an open stream asks whether its token was revoked (signed out, suspended):
    # a revoked token's stream ends within this, with `stream.closed` {"reason": "token_revoked"}.
    stream_revocation_check_seconds: float = Field(default=30.0, gt=0)
    stream_catch_up_page: int = Field(default=500, ge=1, le=5000)
    # Per agency, the newest entries the stream process dispatched, kept in memory: a resume
    # from within them (a reconnect storm's) reads nothing from the database for them.
    # None older than `stream_replay_max_age_seconds` (well under `feed_retention_days`, so a
    # cursor among them is never one retention passed).
    stream_replay_entries_per_agency: int = Field(default=1000, ge=0, le=100_000)
    stream_replay_max_age_seconds: float = Field(default=3600.0, gt=0, le=43_200)
    # At most this many streams read the database at once while opening or catching up (per
    # process), well under the connection pool; one that waits longer than
    # `stream_catch_up_wait_seconds` for its turn is a 503 with `Retry-After`.
    stream_catch_up_concurrency: int = Field(default=8, ge=1, le=100)
    stream_catch_up_wait_seconds: float = Field(default=20.0, gt=0)
    stream_retry_after_seconds: int = Field(default=2, ge=1)

    # --- Outbound webhooks (agencyos.notification.webhooks) ---
    # Encrypts every endpoint's signing secrets at rest (AES-GCM; any string, stretched to a
    # key); AGENCYOS_NOTIFICATION_WEBHOOK_SECRET_KEY. Changing it makes stored secrets
    # unreadable: rotate the endpoints' secrets after.
    webhook_secret_key: str = "agencyos-webhook-secrets-local-development-only"
    # Plain http:// endpoint URLs, and private destinations: refused unless listed here (CIDR
    # networks, e.g. ["127.0.0.0/8", "::1/128"] under `make dev` and in tests). Production
    # refuses to start with either (see `refuse_development_defaults`).
    webhook_allow_http: bool = False
    webhook_allowed_private_networks: list[str] = []
    # Waits before the 2nd, 3rd, ... attempt (the first is at once), each with up to
    # `webhook_retry_jitter` of itself added at random: 9 attempts over ~52 hours by default.
    webhook_retry_seconds: list[float] = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000]
    webhook_retry_jitter: float = Field(default=0.2, ge=0, le=1)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_response_body_limit: int = Field(default=4096, ge=0)
    webhook_max_redirects: int = Field(default=3, ge=0, le=10)
    # In flight at once: per endpoint (1 keeps each endpoint's deliveries in event order while
    # it answers) and per worker process.
    webhook_endpoint_concurrency: int = Field(default=1, ge=1, le=50)
    webhook_concurrency: int = Field(default=50, ge=1, le=1000)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    webhook_batch_size: int = Field(default=200, ge=1, le=5000)
    # A delivery being sent is leased this long; a worker that died mid-send loses it after.
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    # An endpoint whose every attempt failed for this long is disabled (5 days)
    webhook_disable_after_failing_seconds: float = Field(default=432_000.0, gt=0)
    # After a secret rotation the old secret keeps signing (next to the new one) this long
    webhook_secret_rotation_grace_seconds: float = Field(default=86_400.0, ge=0)

    def webhook_destination_policy(self) -> DestinationPolicy:
        """Where webhooks may be sent (agencyos.common.destinations), as these settings say."""
        return DestinationPolicy.of(self.webhook_allow_http, self.webhook_allowed_private_networks)

    @model_validator(mode="after")
    def _no_private_webhooks_in_production(self) -> Self:
        """Production never sends webhooks over plain http nor to private networks: a
        setting that allows either is refused at start, whatever else is set."""
        if self.environment.strip().lower() == "production" and (
            self.webhook_allow_http or self.webhook_allowed_private_networks
        ):
            raise ValueError(
                "notification refuses to start in production with "
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOW_HTTP or "
                "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS set (development only)"
            )
        return self

    # --- Automation rules (agencyos.notification.automations) ---
    # An event caused by this many automation actions in a row triggers nothing more.
    automation_max_depth: int = Field(default=3, ge=1, le=10)
    # A failing action is retried after these waits (then recorded as failed in the run).
    automation_action_retry_seconds: list[float] = [1, 5, 30]
    # How often the automations worker looks for runs with an action due (when idle).
    automation_poll_seconds: float = Field(default=0.2, gt=0)
