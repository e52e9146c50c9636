"""gRPC (grpc.aio) helpers: a server with auth context, tracing, metrics and error mapping,
health checking and reflection; and a client call helper that carries the caller's token.

The server owns each call's transaction: for a service with a database, every call of its own
servicers runs in one transaction (committed when the method returns, rolled back when it
raises) under the caller's agency, which the method reaches through `rpc_session()`. A call
without a caller (identity's `ResolveApiKey`) gets a transaction with no agency set, in which
row-level security shows nothing until the method names the agency (`set_local`).
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry import context as otel_context
from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import JwksVerifier, Principal, bearer_token
from agencyos.common.db import Database
from agencyos.common.errors import AppError, InvalidInput, Unauthenticated, error_from_grpc
from agencyos.common.logs import bind, get_logger
from agencyos.common.metrics import GRPC_LATENCY, GRPC_REQUESTS
from agencyos.common.revocation import RevocationStore
from agencyos.common.tracing import extract_context, inject_headers, tracer
from agencyos.common.zones import rfc3339_utc

log = get_logger(__name__)

_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "agencyos_rpc_principal", default=None
)


_session: contextvars.ContextVar[AsyncSession | None] = contextvars.ContextVar(
    "agencyos_rpc_session", default=None
)


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
    ) -> None:
        self.service = service
        self.verifier = verifier
        self.revocations = revocations
        self.database = database

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
        database = self.database

        async def wrapped(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = {
                k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)
            }
            started = time.perf_counter()
            code = grpc.StatusCode.OK
            failure: AppError | None = None
            token = otel_context.attach(extract_context(metadata))
            try:
                with tracer().start_as_current_span(method, kind=trace.SpanKind.SERVER):
                    principal = None
                    if "authorization" in metadata:
                        principal = await verifier.verify(bearer_token(metadata["authorization"]))
                        if revocations is not None:
                            # Fail open: gRPC is internal (NetworkPolicy), and the caller's own
                            # edge already checked this token, closed for writes.
                            await revocations.check(principal, fail_open=True)
                        bind(tenant_id=str(principal.tenant_id), user_id=str(principal.user_id))
                    reset = _principal.set(principal)
                    try:
                        if database is None:
                            return await inner(request, context)
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
                otel_context.detach(token)
                if failure is not None:
                    code = failure.grpc_code
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
) -> grpc.aio.Server:
    """Start a server with our interceptor, the servicers `register` adds (it returns their
    full service names), the health checking protocol and reflection. With `revocations`,
    every call's token is also checked for revocation; with `database`, every call runs in
    one transaction of it (`rpc_session()`)."""
    server = grpc.aio.server(
        interceptors=[ServerInterceptor(service, verifier, revocations, database)]
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


_channels: dict[str, grpc.aio.Channel] = {}


def channel(target: str) -> grpc.aio.Channel:
    """One shared channel per target (channels multiplex calls and reconnect on their own)."""
    if target not in _channels:
        _channels[target] = grpc.aio.insecure_channel(target)
    return _channels[target]


async def close_channels() -> None:
    while _channels:
        _, ch = _channels.popitem()
        await ch.close()


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
    metadata = [("authorization", principal.authorization), *inject_headers().items()]
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
