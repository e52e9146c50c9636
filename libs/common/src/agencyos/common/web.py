"""The FastAPI side of a service: app factory, request context, problem+json, auth deps.

`create_app` wires what every service needs (middleware, error rendering, /healthz, /readyz,
/metrics); a service adds only its routers.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.contextvars import bound_contextvars

from agencyos.common.actor_context import IPNetwork, actor_context, from_http, parse_networks
from agencyos.common.auth import JwksVerifier, Principal, bearer_token, restriction_error
from agencyos.common.db import Database, Transactions
from agencyos.common.errors import AppError, InvalidInput, NotFound
from agencyos.common.idempotency import IdempotencyMiddleware
from agencyos.common.logs import bind, get_logger
from agencyos.common.metrics import (
    DB_POOLS,
    HTTP_LATENCY,
    HTTP_REQUESTS,
    render_latest,
    watch_event_loop,
)
from agencyos.common.nulguard import NulGuardMiddleware
from agencyos.common.openapi import document_errors
from agencyos.common.permissions import ALL_PERMISSIONS
from agencyos.common.problems import problem_response
from agencyos.common.revocation import RevocationStore
from agencyos.common.settings import ServiceSettings
from agencyos.common.tracing import (
    UNTRACED_PATHS,
    extract_context,
    tracer,
    untraced,
)

log = get_logger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ReadinessCheck = Callable[[], Awaitable[None]]
# Something an app runs while it serves: entered at startup, exited at shutdown.
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class ServiceContext:
    """What a service process shares between its API, gRPC server, relay and consumer."""

    def __init__(self, service: str, settings: ServiceSettings, *, with_db: bool = True) -> None:
        self.service = service
        self.settings = settings
        self.db = (
            Database(
                settings.database_url,
                pool_size=settings.database_pool_size,
                pgbouncer=settings.database_pgbouncer,
            )
            if with_db
            else None
        )
        if self.db is not None:
            DB_POOLS.watch(service, self.db.engine.sync_engine.pool)
        self.verifier = JwksVerifier(
            settings.jwks_url,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            cache_seconds=settings.jwks_cache_seconds,
        )
        self.revocations = revocation_store(service, settings)

    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError(f"{self.service} has no database")
        return self.db

    async def close(self) -> None:
        await self.verifier.close()
        await self.revocations.close()
        if self.db is not None:
            await self.db.dispose()


def revocation_store(service: str, settings: ServiceSettings) -> RevocationStore:
    return RevocationStore(
        settings.redis_url,
        namespace=settings.revocation_namespace,
        service=service,
        timeout_seconds=settings.revocation_redis_timeout_seconds,
    )


def _field_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def install_error_handlers(app: FastAPI) -> None:
    async def on_app_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return problem_response(exc, request.url.path)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        if any(e.get("loc", ("",))[0] == "path" for e in exc.errors()):
            # `DELETE /rates/resolve` matched `DELETE /rates/{rate_id}` only because no route
            # named `/rates/resolve` serves DELETE: the path is that route's, so 405.
            allowed = more_literal_route_methods(request.app, request.scope)
            if allowed:
                error = AppError("method not allowed", headers={"Allow": ", ".join(allowed)})
                error.status, error.slug, error.title = 405, "http-405", "Method Not Allowed"
                return problem_response(error, request.url.path)
        errors = [
            {
                "field": _field_name(e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        return problem_response(
            InvalidInput(f"invalid fields: {fields}", errors=errors), request.url.path
        )

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = NotFound("no such route") if exc.status_code == 404 else AppError(str(exc.detail))
        if exc.status_code != 404:
            error.status = exc.status_code
            error.slug = f"http-{exc.status_code}"
            error.title = str(exc.detail)
        error.headers = dict(exc.headers or {})
        if exc.status_code == 405:
            error.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
        return problem_response(error, request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return problem_response(AppError("an unexpected error occurred"), request.url.path)

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def allowed_methods(app: FastAPI, scope: Scope) -> list[str]:
    """Every method the scope's path is served with. Starlette's 405 names only the first
    route whose path matched: a path with GET and POST routes would answer a PUT with
    `Allow: GET`. Where routes with literal segments and routes with parameters both match
    (`/rates/resolve`, `/rates/{rate_id}`), the path is the most literal routes'."""
    by_literalness: dict[int, set[str]] = {}
    # Route contexts, not `app.router.routes`: an included router is one opaque entry there.
    for route in iter_route_contexts(app.routes):
        match, _ = route.matches({**scope, "type": "http"})
        if match != Match.NONE:
            parameters = (route.path_format or "").count("{")
            by_literalness.setdefault(parameters, set()).update(route.methods or set())
    return sorted(by_literalness[min(by_literalness)]) if by_literalness else []


def more_literal_route_methods(app: FastAPI, scope: Scope) -> list[str]:
    """`allowed_methods` when a route names the scope's path more literally than the route
    that matched it (`DELETE /rates/resolve` matched `DELETE /rates/{rate_id}`), else none."""
    matched = getattr(scope.get("route"), "path_format", None) or ""
    methods = allowed_methods(app, scope)
    return methods if scope["method"] not in methods and "{" in matched else []


class RequestContextMiddleware:
    """Request id, log context, server span and HTTP metrics for every request, and its actor
    context (agencyos.common.actor_context): the client's IP address (the gateway's
    `x-agencyos-client-ip` when the peer is in `trusted`), user agent and request id."""

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        trusted: tuple[IPNetwork, ...] = (),
        *,
        edge: bool = False,
    ) -> None:
        self.app = app
        self.service = service
        self.trusted = trusted
        # The public edge (the gateway): ignores any trace context a request brings.
        self.edge = edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        method = scope["method"]
        status = 500
        response_started = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        client = scope.get("client")
        actor = from_http(client[0] if client else None, headers, request_id, self.trusted)
        path = scope["path"]
        # The gateway starts every trace itself: a caller from outside names no parent, no
        # sampling decision and no baggage (the automation depth rides there).
        parent = otel_context.Context() if self.edge else extract_context(headers)
        token = otel_context.attach(parent)
        try:
            with (
                actor_context(actor),
                bound_contextvars(request_id=request_id),
                _server_span(method, path) as span,
            ):
                try:
                    await self.app(scope, receive, send_with_id)
                except Exception:
                    # Answered here rather than by Starlette's outermost error middleware, so
                    # the log line has the request and trace ids and the 500 the request id.
                    if response_started:
                        raise
                    log.exception("unhandled error", path=path)
                    response = problem_response(AppError("an unexpected error occurred"), path)
                    await response(scope, receive, send_with_id)
                route = _route_of(scope)
                # Named by the route's template (`GET /v1/clients/{client_id}`), never the
                # raw path: one name per operation, and no ids in names.
                span.update_name(f"{method} {route}")
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(trace.StatusCode.ERROR)
        finally:
            otel_context.detach(token)
            route = _route_of(scope)
            if route not in UNTRACED_PATHS:
                HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
                HTTP_LATENCY.labels(self.service, method, route).observe(
                    time.perf_counter() - started
                )


@contextmanager
def _server_span(method: str, path: str) -> Iterator[trace.Span]:
    """The request's server span; none (nor any span under it) for the probes and /metrics."""
    if path in UNTRACED_PATHS:
        with untraced():
            yield trace.INVALID_SPAN
        return
    with tracer().start_as_current_span(
        method,
        kind=trace.SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": path},
    ) as span:
        yield span


def _route_of(scope: Scope) -> str:
    """The template of the route that answered (the gateway's: the prefix it forwards)."""
    return str(scope.get("agencyos.route") or getattr(scope.get("route"), "path", "unmatched"))


# --- dependencies -----------------------------------------------------------------------------


def service_context(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.ctx
    return ctx


async def verified_principal(request: Request) -> Principal:
    """The caller's verified, unrevoked token, restricted or not: only for the routes a
    restricted token may use (`CurrentPrincipalEvenRestricted`); everything else takes
    `current_principal`."""
    token = bearer_token(request.headers.get("authorization"))
    ctx = service_context(request)
    principal = await ctx.verifier.verify(token)
    # A write whose token cannot be checked for revocation is refused (unless configured
    # otherwise); a read is admitted (see agencyos.common.revocation).
    fail_open = request.method in SAFE_METHODS or not ctx.settings.revocation_fail_closed_writes
    await ctx.revocations.check(principal, fail_open=fail_open)
    bind(tenant_id=str(principal.tenant_id), user_id=str(principal.user_id))
    request.state.principal = principal
    return principal


async def current_principal(
    principal: Annotated[Principal, Depends(verified_principal)],
) -> Principal:
    """The caller, refused (403) when their token is restricted (`Principal.restricted`,
    e.g. good only for enrolling in two-factor sign-in)."""
    if principal.restricted is not None:
        raise restriction_error(principal.restricted)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
# A route that a restricted token may use too (it checks `principal.restricted` itself).
CurrentPrincipalEvenRestricted = Annotated[Principal, Depends(verified_principal)]


def require(permission: str) -> Any:
    """A dependency that admits only callers holding `permission`, one of the names in
    agencyos.common.permissions: a misspelt name fails when the route module is imported
    instead of answering 403 to everyone."""
    if permission not in ALL_PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r} (see agencyos.common.permissions)")

    async def check(principal: CurrentPrincipal) -> Principal:
        principal.require(permission)
        return principal

    check.__name__ = f"require_{permission.replace('.', '_')}"
    return Depends(check)


async def tenant_session(
    request: Request, principal: CurrentPrincipal
) -> AsyncIterator[AsyncSession]:
    """The request's one transaction, under the caller's tenant; committed before the
    response is sent, rolled back on any error."""
    db = service_context(request).database()
    async with db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
        yield session


async def tenant_session_even_restricted(
    request: Request, principal: CurrentPrincipalEvenRestricted
) -> AsyncIterator[AsyncSession]:
    """`tenant_session` for the routes a restricted token may use."""
    db = service_context(request).database()
    async with db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
        yield session


async def public_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A transaction with no tenant set (signup, login): tenant tables show no rows."""
    async with service_context(request).database().transaction(None) as session:
        yield session


def tenant_transactions(request: Request, principal: CurrentPrincipal) -> Transactions:
    """For a request that must not hold one transaction throughout (a saga across services or
    Stripe: billing's invoice runs): short transactions under the caller's tenant, each opened
    by `async with transactions() as session:`. The request still owns them: nothing else
    opens a transaction for the caller."""
    db = service_context(request).database()

    def open_transaction() -> AbstractAsyncContextManager[AsyncSession]:
        return db.transaction(principal.tenant_id, user_id=principal.user_id)

    return open_transaction


TenantSession = Annotated[AsyncSession, Depends(tenant_session, scope="function")]
PublicSession = Annotated[AsyncSession, Depends(public_session, scope="function")]
TenantSessionEvenRestricted = Annotated[
    AsyncSession, Depends(tenant_session_even_restricted, scope="function")
]
TenantTransactions = Annotated[Transactions, Depends(tenant_transactions)]


# --- health ----------------------------------------------------------------------------------


def health_router(checks: dict[str, ReadinessCheck], *, metrics: bool = True) -> APIRouter:
    """/healthz, /readyz and (unless `metrics` is false, e.g. on a public port) /metrics."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), 2.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}"
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    if metrics:
        router.include_router(metrics_router())
    return router


def metrics_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    return router


def on_drain(app: FastAPI, callback: Callable[[], None]) -> None:
    """Call `callback` when the process begins shutting down, before the server waits for the
    requests in flight: long-lived answers (a live stream) can end on their own terms
    instead of being cut off when the grace period runs out."""
    callbacks: list[Callable[[], None]] = getattr(app.state, "drain_callbacks", [])
    callbacks.append(callback)
    app.state.drain_callbacks = callbacks


def drain(app: FastAPI) -> None:
    """The process is shutting down (called by the runtime): see `on_drain`."""
    for callback in getattr(app.state, "drain_callbacks", ()):
        try:
            callback()
        except Exception:
            log.exception("drain callback failed")


def create_app(
    ctx: ServiceContext,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    version: str = "0.1.0",
    readiness: dict[str, ReadinessCheck] | None = None,
    lifespans: Sequence[Lifespan] = (),
) -> FastAPI:
    """`lifespans`: what the app runs while it serves (entered in order at startup, exited in
    reverse at shutdown, before the context closes), e.g. notification's stream hub."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop_watch = asyncio.create_task(watch_event_loop(ctx.service))
        try:
            async with AsyncExitStack() as stack:
                for enter in lifespans:
                    await stack.enter_async_context(enter(app))
                yield
        finally:
            loop_watch.cancel()
            await ctx.close()

    # No redirect from `/clients/` to `/clients`: behind the gateway its Location would name
    # the service's own address, and the redirect is documented nowhere; it is a 404.
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        redirect_slashes=False,
        # FastAPI's own spans and metrics off: RequestContextMiddleware makes the one server
        # span per request (route-named, none for probes) and Prometheus has the metrics.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    checks: dict[str, ReadinessCheck] = {}
    # Readiness is the database (and what a service adds), never Kafka: writes go to the
    # outbox, which rides out a Kafka outage, so an unready fleet would turn a broker outage
    # into an API outage. The relay reports Kafka as `agencyos_kafka_reachable` instead.
    if ctx.db is not None:
        checks["database"] = ctx.db.ping
    checks.update(readiness or {})
    app.include_router(health_router(checks))
    for router in routers:
        app.include_router(router)
    if ctx.db is not None:
        app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(NulGuardMiddleware)
    document_errors(app, idempotent_posts=ctx.db is not None)
    app.add_middleware(
        RequestContextMiddleware,
        service=ctx.service,
        trusted=parse_networks(ctx.settings.trusted_peer_networks),
    )
    return app
