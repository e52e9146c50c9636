from typing import Literal

from agencyos.common.services import GATEWAY_METRICS_PORT, GATEWAY_PORT, SERVICE_PORTS
from agencyos.common.settings import ServiceSettings, service_config


def _url(service: str) -> str:
    return f"http://127.0.0.1:{SERVICE_PORTS[service][0]}"


class GatewaySettings(ServiceSettings):
    service_name = "gateway"
    model_config = service_config("gateway")

    http_port: int = GATEWAY_PORT
    # Prometheus /metrics, on its own port so the public one never serves it.
    metrics_port: int = GATEWAY_METRICS_PORT
    # One upstream per service of agencyos.common.services (gateway/tests/test_service_list.py).
    identity_url: str = _url("identity")
    crm_url: str = _url("crm")
    work_url: str = _url("work")
    time_url: str = _url("time")
    billing_url: str = _url("billing")
    notification_url: str = _url("notification")
    portal_url: str = _url("portal")
    # `GET /v1/stream`: notification's stream process when deployed apart (the chart's
    # notification-stream); unset, notification itself serves it (`all` mode, make dev, tests).
    stream_url: str | None = None

    upstream_timeout_seconds: float = 30.0
    # `GET /v1/stream` (Server-Sent Events) waits this long for the stream's next bytes instead
    # of `upstream_timeout_seconds`: the service writes a heartbeat every 15 s, so only a dead
    # upstream stays quiet this long (None: no limit). Every other route keeps its timeout.
    stream_read_timeout_seconds: float | None = 120.0
    # Streams open at once through one gateway replica: each holds an upstream connection, in
    # a pool apart from other requests' (past it, a new stream is answered 503).
    stream_max_connections: int = 10_000
    upstream_connect_timeout_seconds: float = 3.0
    max_body_bytes: int = 10 * 1024 * 1024
    openapi_cache_seconds: float = 30.0
    # How long a resolved API key (identity's answer: a short-lived access token) is reused
    # before identity is asked again. A revoked key keeps working at most this long; a token
    # is never reused past its own expiry. Refusals are remembered for 2 s at most.
    api_key_cache_seconds: float = 5.0
    # Browser origins allowed to call the API (exact `scheme://host[:port]`; `*` = any origin,
    # never with credentials). Empty: every preflight is refused.
    cors_origins: list[str] = []
    # Access-Control-Allow-Credentials for the origins listed by name (never for `*`).
    cors_allow_credentials: bool = False
    cors_max_age_seconds: int = 600

    # Rate limits (see ratelimit.py). `redis` shares the counters between replicas; `memory`
    # is the fallback for a single replica (each replica would count on its own).
    rate_limit_enabled: bool = True
    rate_limit_backend: Literal["redis", "memory"] = "redis"
    # AGENCYOS_GATEWAY_REDIS_URL, else the shared AGENCYOS_REDIS_URL.
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Inserted into every key (agencyos:rl:<namespace>:...), so environments or test runs
    # sharing one Redis keep separate counters.
    rate_limit_namespace: str = ""
    rate_limit_redis_timeout_seconds: float = 0.5
    rate_limit_redis_retry_seconds: float = 2.0
    rate_limit_memory_max_keys: int = 100_000
    # Public auth routes, per client IP and (separately) per account email.
    rate_limit_auth_limit: int = 10
    rate_limit_auth_window_seconds: float = 10.0
    # Authenticated traffic, per user (sub + tid) and per API key.
    rate_limit_api_user_limit: int = 200
    rate_limit_api_user_window_seconds: float = 60.0
    rate_limit_api_key_limit: int = 120
    rate_limit_api_key_window_seconds: float = 60.0
    # Peers whose X-Forwarded-For is believed (addresses or CIDRs, e.g. the load balancer's).
    trusted_proxies: list[str] = []

    def upstream_url(self, service: str) -> str:
        if service == "stream":  # routes.STREAM
            return (self.stream_url or self.notification_url).rstrip("/")
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
