from agencyos.common.settings import GATEWAY_PORT, SERVICE_PORTS, ServiceSettings, service_config


def _url(service: str) -> str:
    return f"http://127.0.0.1:{SERVICE_PORTS[service][0]}"


class GatewaySettings(ServiceSettings):
    service_name = "gateway"
    model_config = service_config("gateway")

    http_port: int = GATEWAY_PORT
    identity_url: str = _url("identity")
    crm_url: str = _url("crm")
    work_url: str = _url("work")
    time_url: str = _url("time")
    billing_url: str = _url("billing")
    notification_url: str = _url("notification")
    portal_url: str = _url("portal")

    upstream_timeout_seconds: float = 30.0
    upstream_connect_timeout_seconds: float = 3.0
    max_body_bytes: int = 10 * 1024 * 1024
    openapi_cache_seconds: float = 30.0
    cors_origins: list[str] = []

    def upstream_url(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
