"""Settings: one pydantic-settings class per service, built from shared blocks.

A service reads `AGENCYOS_<SERVICE>_<NAME>` first and falls back to the shared
`AGENCYOS_<NAME>`, so a deployment sets what all services share once and overrides per service.
Every field has a default that works against the local stack (`make dev`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from agencyos.common.actor_context import PRIVATE_NETWORKS
from agencyos.common.services import SERVICE_PORTS

SHARED_PREFIX = "AGENCYOS_"


class ServiceSettings(BaseSettings):
    """Base of every service's settings; subclasses set `service_name` and `model_config`."""

    service_name: ClassVar[str] = ""
    model_config = SettingsConfigDict(extra="ignore")
    # Secrets whose default works only for local development: a production start refuses to
    # run while any of them still has its default (`refuse_development_defaults`).
    development_secrets: ClassVar[tuple[str, ...]] = ()

    # "production" makes the start fail while a development default is still set.
    environment: str = "development"

    # process
    http_host: str = "127.0.0.1"
    http_port: int = 0
    grpc_port: int = 0
    log_level: str = "INFO"
    log_json: bool = True
    shutdown_grace_seconds: float = 10.0
    # The asyncio event loop: uvloop (libuv; about twice the socket throughput per core of the
    # standard loop, which the stream's fan-out and the gateway feel first), or the standard
    # one (`AGENCYOS_EVENT_LOOP=asyncio`), e.g. to rule uvloop out when chasing a problem.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    # database
    postgres_host: str = "127.0.0.1"
    postgres_port: int = 55432
    database_name: str = ""
    database_app_user: str = "agencyos_app"
    database_app_password: str = "agencyos_app"
    database_owner_user: str = "agencyos_owner"
    database_owner_password: str = "agencyos_owner"
    # DSN the service runs with: a role that owns nothing, so RLS always applies.
    # Empty means "build it from the fields above" (see model_post_init).
    database_url: str = ""
    # DSN migrations run with: the role that owns the tables. Empty means "build it".
    migration_database_url: str = ""
    database_pool_size: int = 10
    # The DSN reaches PostgreSQL through PgBouncer in transaction mode (the chart's CloudNativePG
    # Pooler): asyncpg then keeps no prepared statements across transactions, since the next
    # transaction may run on another server connection (AGENCYOS_DATABASE_PGBOUNCER).
    database_pgbouncer: bool = False
    # A direct DSN (never through PgBouncer) for what holds a session-level advisory lock:
    # leadership of billing's scheduler and notification's digests and retention. Empty means
    # database_url, right whenever that is direct.
    leader_database_url: str = ""

    # kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic and consumer group, so environments (or test runs) can share
    # one cluster without seeing each other's events.
    kafka_topic_prefix: str = ""
    consumer_max_attempts: int = 5
    consumer_retry_backoff_seconds: float = 0.2
    relay_poll_seconds: float = 0.2
    relay_batch_size: int = 200

    # auth
    jwks_url: str = "http://127.0.0.1:8101/.well-known/jwks.json"
    jwt_issuer: str = "agencyos"
    jwt_audience: str = "agencyos-api"
    jwks_cache_seconds: float = 300.0

    # Redis: revoked tokens (agencyos.common.revocation; identity writes, every verifier
    # reads). AGENCYOS_<SERVICE>_REDIS_URL, else the shared AGENCYOS_REDIS_URL.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Inserted into every revocation key (agencyos:rv:<namespace>:...), so environments or test
    # runs sharing one Redis never see each other's revocations. Must be the same for identity,
    # the services and the gateway of one deployment: set the shared AGENCYOS_REVOCATION_NAMESPACE.
    revocation_namespace: str = ""
    revocation_redis_timeout_seconds: float = 0.5
    # When Redis cannot be reached: a service refuses writes (503) whose token it cannot check
    # (True), or admits them (False); reads are always admitted. Either way the outage is
    # counted in agencyos_revocation_store_errors_total and recent revocations still apply.
    revocation_fail_closed_writes: bool = True

    # telemetry: spans go to this OTLP/gRPC collector (http://host:4317); none, no export
    otlp_endpoint: str = ""
    # The share of new traces kept (0..1), decided where a trace starts (the gateway, a
    # consumer's event without trace context, a job); every later span follows the decision
    # its trace carries (parent-based), so a trace is kept whole or not at all.
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

    # Peers (addresses or CIDRs) whose word on the client is believed: the gateway's
    # `x-agencyos-client-ip` header on HTTP, the actor's IP, user agent and request id in gRPC
    # metadata (agencyos.common.actor_context). Loopback and private networks by default, where
    # the gateway and the other services run; from any other peer its own address is the
    # client's. Narrow it to the gateway's and services' networks where others share them.
    trusted_peer_networks: list[str] = list(PRIVATE_NETWORKS)

    # What our services show each other where no person's token can be sent (identity's
    # IssueDelegatedToken: an automation acting for its author): one shared secret per
    # deployment, the same for identity and its callers (the shared
    # AGENCYOS_SERVICE_CREDENTIAL). Services that use it list it in `development_secrets`.
    service_credential: str = "agencyos-service-credential-local-development-only"

    # peers (gRPC targets); only the ones a service calls matter to it
    identity_grpc_target: str = f"127.0.0.1:{SERVICE_PORTS['identity'][1]}"
    crm_grpc_target: str = f"127.0.0.1:{SERVICE_PORTS['crm'][1]}"
    work_grpc_target: str = f"127.0.0.1:{SERVICE_PORTS['work'][1]}"
    time_grpc_target: str = f"127.0.0.1:{SERVICE_PORTS['time'][1]}"
    billing_grpc_target: str = f"127.0.0.1:{SERVICE_PORTS['billing'][1]}"
    grpc_timeout_seconds: float = 5.0

    def model_post_init(self, __context: Any) -> None:
        name = type(self).service_name
        if name in SERVICE_PORTS:
            http, grpc = SERVICE_PORTS[name]
            self.http_port = self.http_port or http
            self.grpc_port = self.grpc_port or grpc
        if not self.database_name and name:
            self.database_name = f"agencyos_{name}"
        # Plain fields (not aliased ones, which pydantic-settings reads without the env
        # prefix), so AGENCYOS_<SVC>_DATABASE_URL is what overrides the built DSN.
        if not self.database_url:
            self.database_url = self._dsn(self.database_app_user, self.database_app_password)
        if not self.migration_database_url:
            self.migration_database_url = self._dsn(
                self.database_owner_user, self.database_owner_password
            )
        if not self.leader_database_url:
            self.leader_database_url = self.database_url

    def _dsn(self, user: str, password: str) -> str:
        return (
            f"postgresql+asyncpg://{user}:{password}@{self.postgres_host}:"
            f"{self.postgres_port}/{self.database_name}"
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX)
        return (init_settings, env_settings, shared, file_secret_settings)


def service_config(name: str) -> SettingsConfigDict:
    """The model_config of a service's settings class: its own env prefix."""
    return SettingsConfigDict(
        env_prefix=f"{SHARED_PREFIX}{name.upper()}_", extra="ignore", populate_by_name=True
    )


class DevelopmentDefaultInProduction(RuntimeError):
    """A production start with a secret still at its development default."""


def refuse_development_defaults(settings: ServiceSettings) -> None:
    """Fail loudly when `settings.environment` is production and a development secret is left
    at its default, naming every such setting and the variable that sets it."""
    if settings.environment.strip().lower() != "production":
        return
    fields = type(settings).model_fields
    unset = [
        name
        for name in type(settings).development_secrets
        if getattr(settings, name) == fields[name].default
    ]
    if unset:
        service = type(settings).service_name.upper()
        names = ", ".join(f"AGENCYOS_{service}_{name.upper()}" for name in unset)
        raise DevelopmentDefaultInProduction(
            f"{type(settings).service_name} refuses to start in production with development "
            f"defaults; set {names}"
        )
