"""Gateway app: authenticate, route, forward. Services verify the token again themselves."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from structlog.contextvars import get_contextvars

from agencyos.common.auth import JwksVerifier, Principal, bearer_token, restriction_error
from agencyos.common.errors import (
    AddressNotAllowed,
    AppError,
    BadRequest,
    NotFound,
    Unauthenticated,
)
from agencyos.common.logs import bind
from agencyos.common.metrics import watch_event_loop
from agencyos.common.rpc import close_channels
from agencyos.common.web import (
    RequestContextMiddleware,
    health_router,
    install_error_handlers,
    metrics_router,
)
from agencyos.gateway.apikeys import ApiKeyResolver
from agencyos.gateway.clientip import client_ip, in_networks, parse_networks
from agencyos.gateway.cors import CorsMiddleware
from agencyos.gateway.headers import SecurityHeadersMiddleware
from agencyos.gateway.openapi import SERVICES, OpenApiAggregator
from agencyos.gateway.paths import CanonicalPathMiddleware, check_forwardable
from agencyos.gateway.proxy import Forwarder
from agencyos.gateway.ratelimit import account_of, build_limits, is_auth_route, is_portal_sign_in
from agencyos.gateway.revocation import RevocationGate
from agencyos.gateway.routes import STREAM, is_public, resolve, restricted_allows
from agencyos.gateway.settings import GatewaySettings

VERSION = "0.1.0"
PROXY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
API_KEY_PREFIX = "ak_"


def build_app(settings: GatewaySettings) -> FastAPI:
    verifier = JwksVerifier(
        settings.jwks_url,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        cache_seconds=settings.jwks_cache_seconds,
    )
    forwarder = Forwarder(
        timeout=settings.upstream_timeout_seconds,
        connect_timeout=settings.upstream_connect_timeout_seconds,
        max_body_bytes=settings.max_body_bytes,
        stream_read_timeout=settings.stream_read_timeout_seconds,
        stream_max_connections=settings.stream_max_connections,
    )
    aggregator = OpenApiAggregator(
        {s: settings.upstream_url(s) for s in SERVICES},
        cache_seconds=settings.openapi_cache_seconds,
        version=VERSION,
    )
    api_keys = ApiKeyResolver(
        settings.identity_grpc_target,
        cache_seconds=settings.api_key_cache_seconds,
        timeout_seconds=settings.grpc_timeout_seconds,
    )
    limits = build_limits(settings)
    revocations = RevocationGate.from_settings(settings, api_keys)
    trusted_proxies = parse_networks(settings.trusted_proxies)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        loop_watch = asyncio.create_task(watch_event_loop("gateway"))
        yield
        loop_watch.cancel()
        await forwarder.close()
        await verifier.close()
        await limits.close()
        await revocations.close()
        await close_channels()

    app = FastAPI(
        title="AgencyOS gateway",
        version=VERSION,
        lifespan=lifespan,
        # The middleware's span only (agencyos.common.web.create_app says why).
        telemetry={"tracing": False, "metrics": False, "logs": False},
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)

    async def jwks_reachable() -> None:
        response = await forwarder.client.get(settings.jwks_url, timeout=2.0)
        response.raise_for_status()

    # Probes stay on the public port; /metrics is on the metrics port (build_metrics_app).
    app.include_router(health_router({"jwks": jwks_reachable}, metrics=False))

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(await aggregator.document(forwarder.client))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="AgencyOS API")

    async def key_principal(api_key: str) -> tuple[str, Principal]:
        """The access token identity minted for `api_key` and who it says the caller is."""
        token = await api_keys.access_token(api_key)
        principal = await verifier.verify(token)
        if principal.api_key_id is None:
            # Defence in depth: what a key resolves to must be a key's token.
            raise Unauthenticated("the API key is not valid")
        await revocations.admit(principal, api_key=api_key)
        return token, principal

    @app.api_route("/{path:path}", methods=PROXY_METHODS, include_in_schema=False)
    async def proxy(request: Request, path: str) -> Response:
        # request.url.path is the one canonical decoding of the raw path (paths.py).
        route = resolve(request.url.path)
        if route is None:
            raise NotFound("no such route")
        check_forwardable(request.url.path)
        if len(request.headers.getlist("authorization")) > 1:
            raise BadRequest("send one Authorization header, not several")
        request.scope["agencyos.route"] = route.prefix
        body: bytes | None = None
        limit_headers: dict[str, str] = {}
        header_overrides: dict[str, str | None] = {}
        peer = request.client.host if request.client else ""
        ip = client_ip(peer, request.headers.get("x-forwarded-for"), trusted_proxies)
        if is_public(request.method, request.url.path):
            if _carries_api_key(request.headers.get("authorization")):
                # Public routes read no credentials; a key sent along anyway stays here.
                header_overrides["authorization"] = None
            if is_auth_route(request.url.path) or is_portal_sign_in(
                request.method, request.url.path
            ):
                # Counted before identity sees it: the limit is what stops password guessing.
                body = await forwarder.read_body(request)
                checks = limits.auth_checks(ip, account_of(request.url.path, body))
                limit_headers = await limits.enforce(checks)
        else:
            token = bearer_token(request.headers.get("authorization"))
            is_api_key = token.startswith(API_KEY_PREFIX)
            api_key = token if is_api_key else None
            if is_api_key:
                # Counted by a hash of the key before it is checked: the quota belongs to the
                # key, and a key guessed in a loop is refused at the limit without asking identity.
                limit_headers = await limits.enforce(limits.key_checks(token))
            try:
                if api_key is not None:
                    # Services get the token identity minted for the key, never the key.
                    try:
                        token, principal = await key_principal(api_key)
                    except Unauthenticated:
                        # Its cached token was refused (the revocation gate forgot it): the
                        # key revoked, or a tenant-wide change such as a new IP allowlist.
                        # Asked again, identity refuses a revoked key and mints a token with
                        # what the agency's tokens carry now for a live one.
                        token, principal = await key_principal(api_key)
                    header_overrides["authorization"] = f"Bearer {token}"
                else:
                    principal = await verifier.verify(token)
                    await revocations.admit(principal, api_key=None)
                if principal.ip_allowlist and not in_networks(ip, principal.ip_allowlist):
                    # The agency's IP allowlist (the token's `ipal`), for people and API keys.
                    raise AddressNotAllowed("your address is not in this agency's IP allowlist")
                restricted = principal.restricted
                if restricted and not restricted_allows(
                    restricted, request.method, request.url.path
                ):
                    raise restriction_error(restricted)
            except AppError as exc:
                exc.headers.update(limit_headers)
                raise
            bind(tenant_id=str(principal.tenant_id), user_id=str(principal.user_id))
            if not is_api_key:
                checks = limits.user_checks(principal.tenant_id, principal.user_id)
                limit_headers = await limits.enforce(checks)
        request_id: Any = get_contextvars().get("request_id", "")
        response = await forwarder.forward(
            request,
            settings.upstream_url(route.service),
            request_id,
            body,
            header_overrides=header_overrides,
            # Rate limits and credentials were checked above, once, when the stream opens.
            stream=route.service == STREAM,
            # The services believe this address (from the gateway alone): actor_context.
            client_ip=ip,
        )
        response.headers.update(limit_headers)
        return response

    # Outermost last: headers on everything, request ids, CORS (preflights answered before
    # auth and rate limits, errors readable cross-origin), then the path check.
    app.add_middleware(CanonicalPathMiddleware)
    app.add_middleware(
        CorsMiddleware,
        origins=settings.cors_origins,
        methods=PROXY_METHODS,
        allow_credentials=settings.cors_allow_credentials,
        max_age_seconds=settings.cors_max_age_seconds,
    )
    app.add_middleware(RequestContextMiddleware, service="gateway", edge=True)
    app.add_middleware(SecurityHeadersMiddleware)
    return app


def build_metrics_app() -> FastAPI:
    """Prometheus /metrics, served on the metrics port only."""
    app = FastAPI(
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.include_router(metrics_router())
    return app


def _carries_api_key(authorization: str | None) -> bool:
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and value.strip().startswith(API_KEY_PREFIX)
