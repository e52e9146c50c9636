"""gRPC (grpc.aio) helpers: a server with auth context, tracing, metrics and error mapping,
health checking and reflection; and a client call helper that carries the caller's token.

The server owns each call's transaction: for a service with a database, every call of its own
servicers runs in one transaction (committed when the method returns, rolled back when it
raises) under the caller's agency, which the method reaches through `rpc_session()`. A call
without a caller (identity's `ResolveApiKey`) gets a transaction with no agency set, in which
row-level security shows nothing until the method names the agency (`set_local`). A method
that must not hold one transaction throughout (it talks to Stripe between reading and writing)
is marked `@own_transactions`: the server then opens none, and the method opens short ones under
the caller's agency through `rpc_transactions()` (HTTP's `TenantTransactions`).

A few methods are called by our services themselves, with no person's token (identity's
`IssueDelegatedToken`): they are marked `@service_authenticated`, and only they accept (and
require) the shared service credential in `x-agencyos-service-credential` metadata instead of a
token. Every other method ignores that metadata: the credential grants nothing else.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import date, datetime
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.actor_context import (
    IPNetwork,
    actor_context,
    current_actor_context,
    from_grpc,
)
from agencyos.common.auth import JwksVerifier, Principal, bearer_token, restriction_error
from agencyos.common.db import Database, Transactions
from agencyos.common.errors import AppError, InvalidInput, Unauthenticated, error_from_grpc
from agencyos.common.logs import bind, get_logger
from agencyos.common.metrics import GRPC_LATENCY, GRPC_REQUESTS
from agencyos.common.revocation import RevocationStore
from agencyos.common.tracing import (
    PROPAGATION_HEADERS,
    extract_context,
    inject_headers,
    tracer,
)
from agencyos.common.zones import rfc3339_utc

log = get_logger(__name__)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "agencyos_rpc_principal", default=None
)


# True while a @service_authenticated method runs for a caller that presented the credential.
_service_caller: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "agencyos_rpc_service_caller", default=False
)

SERVICE_CREDENTIAL_METADATA = "x-agencyos-service-credential"
_SERVICE_AUTHENTICATED = "__agencyos_service_authenticated__"

_OWN_TRANSACTIONS = "__agencyos_own_transactions__"

_Servicer = TypeVar("_Servicer")
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Method = Callable[[_Servicer, _Request, grpc.aio.ServicerContext], Coroutine[Any, Any, _Response]]


def service_authenticated(
    method: _Method[_Servicer, _Request, _Response],
) -> _Method[_Servicer, _Request, _Response]:
    """Mark a servicer method as one our services call on their own, with the service
    credential instead of a person's token. The server's interceptor then demands the
    credential (and verifies no token) for it; the method itself refuses to run unless the
    interceptor let it through that way, so a mark on the wrong server admits nobody."""

    @functools.wraps(method)
    async def guarded(
        self: _Servicer, request: _Request, context: grpc.aio.ServicerContext
    ) -> _Response:
        if not _service_caller.get():
            raise Unauthenticated("this method needs the service credential")
        return await method(self, request, context)

    setattr(guarded, _SERVICE_AUTHENTICATED, True)
    return guarded


def _credential_matches(presented: str | None, expected: str) -> bool:
    # Constant time (over digests, so not even the length shows), and never a match while the
    # server has no credential configured.
    if not expected or presented is None:
        return False
    return hmac.compare_digest(
        hashlib.sha256(presented.encode()).digest(), hashlib.sha256(expected.encode()).digest()
    )


_session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "agencyos_rpc_session", default=None
)
# The server's database, for the methods that open their own transactions.
_database: contextvars.ContextVar[Database | None] = contextvars.ContextVar(
    "agencyos_rpc_database", default=None
)


def own_transactions(
    method: _Method[_Servicer, _Request, _Response],
) -> _Method[_Servicer, _Request, _Response]:
    """Mark a servicer method that opens its own short transactions (`rpc_transactions()`)
    instead of running in the one the server opens for a call: for a call that talks to a
    system outside the database (Stripe) between reading and writing, holding no connection or
    lock meanwhile."""
    setattr(method, _OWN_TRANSACTIONS, True)
    return method


def rpc_transactions() -> Transactions:
    """Short transactions under the current caller's agency, for an `@own_transactions`
    method: each opened by `async with rpc_transactions()() as session:`."""
    database = _database.get()
    if database is None:
        raise RuntimeError("no database: this gRPC server was started without one")
    principal = rpc_principal()

    def open_transaction() -> AbstractAsyncContextManager[AsyncSession]:
        return database.transaction(principal.tenant_id, user_id=principal.user_id)

    return open_transaction


def rpc_session() -> AsyncSession:
    """The transaction of the current gRPC call, opened by the server (see the module's doc)."""
    session = _session.get()
    if session is None:
        raise RuntimeError("no transaction: this gRPC server was started without a database")
    return session


def parse_uuid(raw: str, field: str) -> uuid.UUID:
    """A UUID field of a gRPC request; INVALID_ARGUMENT naming the field otherwise."""
    if not raw:
        raise InvalidInput(f"{field} is required")
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be a UUID") from exc


def parse_uuids(raws: Sequence[str], field: str, limit: int) -> tuple[uuid.UUID, ...]:
    """A repeated UUID field: at most `limit` values, each a UUID, duplicates dropped."""
    if len(raws) > limit:
        raise InvalidInput(f"at most {limit} {field} per call")
    return tuple(dict.fromkeys(parse_uuid(raw, field) for raw in raws))


SchemaT = TypeVar("SchemaT", bound=BaseModel)


def validated(schema: type[SchemaT], **fields: Any) -> SchemaT:
    """A request's fields checked by the schema the REST route uses (so both edges accept the
    same input); INVALID_ARGUMENT naming every invalid field otherwise."""
    try:
        return schema.model_validate(fields)
    except ValidationError as exc:
        names = sorted({".".join(str(p) for p in e["loc"]) or "request" for e in exc.errors()})
        raise InvalidInput(f"invalid fields: {', '.join(names)}") from exc


def rfc3339(moment: datetime | None) -> str:
    """A timestamp as gRPC messages carry it: RFC 3339 in UTC with `Z`; "" for none."""
    return rfc3339_utc(moment) if moment else ""


def iso_date(day: date | None) -> str:
    """A calendar date as gRPC messages carry it: `YYYY-MM-DD`; "" for none."""
    return day.isoformat() if day else ""


def rpc_principal() -> Principal:
    """The verified caller of the current gRPC call (from its `authorization` metadata)."""
    principal = _principal.get()
    if principal is None:
        raise Unauthenticated("this call needs the caller's access token in its metadata")
    return principal


class ServerInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Wraps every unary call of our own services (not health or reflection)."""

    def __init__(
        self,
        service: str,
        verifier: JwksVerifier,
        revocations: RevocationStore | None = None,
        database: Database | None = None,
        service_credential: str = "",
        trusted_peers: tuple[IPNetwork, ...] = (),
    ) -> None:
        self.service = service
        self.verifier = verifier
        self.revocations = revocations
        self.database = database
        self.service_credential = service_credential
        self.trusted_peers = trusted_peers

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method: str = handler_call_details.method
        if handler is None or handler.unary_unary is None or method.startswith("/grpc."):
            return handler
        inner = handler.unary_unary
        service, verifier, revocations = self.service, self.verifier, self.revocations
        database, service_credential = self.database, self.service_credential
        trusted_peers = self.trusted_peers
        by_service = bool(getattr(inner, _SERVICE_AUTHENTICATED, False))
        own_tx = bool(getattr(inner, _OWN_TRANSACTIONS, False))

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = {
                k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)
            }
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            failure: AppError | None = None
            token = otel_context.attach(extract_context(metadata))
            span = tracer().start_span(
                method.lstrip("/"),
                kind=trace.SpanKind.SERVER,
                attributes={"rpc.system": "grpc", "rpc.service": method.split("/")[1]},
            )
            # The actor behind the call, as a trusted caller (our own services) passed it on.
            actor = from_grpc(context.peer(), metadata, trusted_peers)
            try:
                with (
                    actor_context(actor),
                    trace.use_span(span, end_on_exit=False, record_exception=False),
                ):
                    principal = None
                    if by_service:
                        # The service credential, and only it: a person's token (whoever's)
                        # is not looked at, so it can never stand in for the credential.
                        presented = metadata.get(SERVICE_CREDENTIAL_METADATA)
                        if not _credential_matches(presented, service_credential):
                            raise Unauthenticated("this method needs a valid service credential")
                    elif "authorization" in metadata:
                        principal = await verifier.verify(bearer_token(metadata["authorization"]))
                        if principal.restricted is not None:
                            # No gRPC method serves what a restricted token is good for.
                            raise restriction_error(principal.restricted)
                        if revocations is not None:
                            # Fail open: gRPC is internal (NetworkPolicy), and the caller's own
                            # edge already checked this token, closed for writes.
                            await revocations.check(principal, fail_open=True)
                        bind(tenant_id=str(principal.tenant_id), user_id=str(principal.user_id))
                    reset = _principal.set(principal)
                    reset_caller = _service_caller.set(by_service)
                    try:
                        if database is None:
                            return await inner(request, context)
                        if own_tx:
                            if principal is None:
                                raise Unauthenticated("this method needs an access token")
                            reset_database = _database.set(database)
                            try:
                                return await inner(request, context)
                            finally:
                                _database.reset(reset_database)
                        async with database.transaction(
                            principal.tenant_id if principal else None,
                            user_id=principal.user_id if principal else None,
                        ) as session:
                            reset_session = _session.set(session)
                            try:
                                return await inner(request, context)
                            finally:
                                _session.reset(reset_session)
                    finally:
                        _service_caller.reset(reset_caller)
                        _principal.reset(reset)
            except AppError as error:
                failure = error
            except grpc.aio.AbortError:
                # The servicer aborted with a status of its own: already sent, not a crash.
                code = context.code() or grpc.StatusCode.UNKNOWN
                raise
            except Exception:
                log.exception("unhandled error in gRPC method", method=method)
                failure = AppError("an unexpected error occurred")
            finally:
                if failure is not None:
                    code = failure.grpc_code
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if failure is not None and failure.status >= 500:
                    span.set_status(trace.StatusCode.ERROR, code.name)
                span.end()
                otel_context.detach(token)
                GRPC_REQUESTS.labels(service, method, code.name).inc()
                GRPC_LATENCY.labels(service, method).observe(time.perf_counter() - started)
            await context.abort(failure.grpc_code, failure.detail)

        return grpc.unary_unary_rpc_method_handler(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


Registrar = Callable[[grpc.aio.Server], Sequence[str]]


async def start_grpc_server(
    service: str,
    verifier: JwksVerifier,
    register: Registrar,
    host: str,
    port: int,
    *,
    revocations: RevocationStore | None = None,
    database: Database | None = None,
    service_credential: str = "",
    trusted_peers: tuple[IPNetwork, ...] = (),
) -> grpc.aio.Server:
    """Start a server with our interceptor, the servicers `register` adds (it returns their
    full service names), the health checking protocol and reflection. With `revocations`,
    every call's token is also checked for revocation; with `database`, every call runs in
    one transaction of it (`rpc_session()`); `service_credential` is what the
    `@service_authenticated` methods demand (none: they refuse every call); `trusted_peers`
    the callers whose actor context (agencyos.common.actor_context) is believed."""
    server = grpc.aio.server(
        interceptors=[
            ServerInterceptor(
                service, verifier, revocations, database, service_credential, trusted_peers
            )
        ]
    )
    names = list(register(server))
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        [*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server
    )
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server


class ClientTracingInterceptor(grpc.aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    """A client span around every unary call on our channels (`rpc.channel`), and its context
    sent in the call's metadata in place of the caller's, so the peer's server span is the
    child of this call rather than of whatever made it."""

    def __init__(self, target: str) -> None:
        self.target = target

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        method = client_call_details.method
        method = method.decode() if isinstance(method, bytes) else str(method)
        if not is_instrumentation_enabled():
            return await continuation(client_call_details, request)
        service, _, name = method.lstrip("/").partition("/")
        with tracer().start_as_current_span(
            method.lstrip("/"),
            kind=trace.SpanKind.CLIENT,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": name,
                "server.address": self.target,
            },
        ) as span:
            metadata = grpc.aio.Metadata(
                *[
                    (key, value)
                    for key, value in (client_call_details.metadata or ())
                    if key not in PROPAGATION_HEADERS
                ],
                *inject_headers().items(),
            )
            details = grpc.aio.ClientCallDetails(
                client_call_details.method,
                client_call_details.timeout,
                metadata,
                client_call_details.credentials,
                client_call_details.wait_for_ready,
            )
            call = await continuation(details, request)
            code = await call.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                span.set_status(trace.StatusCode.ERROR, code.name)
            return call


_channels: dict[str, grpc.aio.Channel] = {}


def channel(target: str) -> grpc.aio.Channel:
    """One shared channel per target (channels multiplex calls and reconnect on their own),
    each call on it traced as a client span (ClientTracingInterceptor)."""
    if target not in _channels:
        _channels[target] = grpc.aio.insecure_channel(
            target, interceptors=[ClientTracingInterceptor(target)]
        )
    return _channels[target]


async def close_channels() -> None:
    while _channels:
        _, ch = _channels.popitem()
        await ch.close()


def _actor_metadata() -> list[tuple[str, str]]:
    actor = current_actor_context()
    return actor.metadata() if actor is not None else []


Req = TypeVar("Req")
Resp = TypeVar("Resp")


async def call(
    method: Callable[..., Any],
    request: Req,
    *,
    principal: Principal,
    timeout: float = 5.0,
) -> Any:
    """Call a peer with the caller's token and trace context; map its status to AppError."""
    metadata = [
        ("authorization", principal.authorization),
        *inject_headers().items(),
        *_actor_metadata(),
    ]
    try:
        return await method(request, metadata=metadata, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        raise error_from_grpc(exc.code(), exc.details()) from exc


async def call_as_service(
    method: Callable[..., Any],
    request: Req,
    *,
    credential: str,
    timeout: float = 5.0,
) -> Any:
    """Call a peer's `@service_authenticated` method with the service credential (and no
    person's token) and the trace context; map its status to AppError."""
    metadata = [
        (SERVICE_CREDENTIAL_METADATA, credential),
        *inject_headers().items(),
        *_actor_metadata(),
    ]
    try:
        return await method(request, metadata=metadata, timeout=timeout)
    except grpc.aio.AioRpcError as exc:
        raise error_from_grpc(exc.code(), exc.details()) from exc


# Every AgencyOS "get these ids" method takes at most this many ids per call.
IDS_PER_CALL = 500


async def call_for_ids(
    method: Callable[..., Any],
    ids: Sequence[Any],
    request: Callable[[list[str]], Any],
    *,
    principal: Principal,
    timeout: float = 5.0,
    per_call: int = IDS_PER_CALL,
) -> list[Any]:
    """Ask a peer about `ids` (duplicates dropped, order kept) in as many calls as its
    per-call limit needs; `request` builds one request from a batch of string ids. The
    answers come back in call order; no ids, no call."""
    unique = [str(i) for i in dict.fromkeys(ids)]
    return [
        await call(
            method,
            request(unique[start : start + per_call]),
            principal=principal,
            timeout=timeout,
        )
        for start in range(0, len(unique), per_call)
    ]
