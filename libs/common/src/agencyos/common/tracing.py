"""OpenTelemetry tracing, propagated over HTTP headers, gRPC metadata and Kafka headers.

Context propagation (W3C traceparent and baggage) always works, so trace ids in logs line up
across services either way. With an OTLP endpoint configured, spans are also exported:

- server spans for HTTP requests, named by route template (`GET /v1/clients/{client_id}`),
  none for the probes and /metrics (agencyos.common.web), and for gRPC methods (rpc);
- client spans for gRPC calls (every channel of `rpc.channel`), for HTTP calls made with httpx
  (the gateway's forwarder, Stripe, webhooks, email API: opentelemetry-instrumentation-httpx)
  and for SQL statements (opentelemetry-instrumentation-sqlalchemy);
- a producer span per event the outbox relay sends, a child of the request that wrote the
  event, and a consumer span per event handled, a child of that producer span (outbox,
  consumer).

Sampling is decided where a trace starts (`trace_sample_ratio`) and followed by every span
after it (parent-based), across processes. A database statement never starts a trace of its
own: the relay's polling or a probe's `SELECT 1` outside any traced work is not recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

_configured = False
# The tracer provider of database statements, when spans are exported (configure_tracing).
_statements: TracerProvider | None = None

# How many automation actions in a row led to the work being done now: carried as W3C baggage
# (so it crosses HTTP, gRPC and Kafka with the trace context) and recorded on every event
# published meanwhile as the CloudEvent extension `automationdepth`. The automation engine
# stops a chain that reaches its maximum depth.
AUTOMATION_DEPTH_BAGGAGE = "agencyos.automation_depth"
AUTOMATION_DEPTH_EXTENSION = "automationdepth"

# The headers (and gRPC metadata keys) that carry the trace context and baggage.
PROPAGATION_HEADERS = frozenset(propagate.get_global_textmap().fields)

# Answered without a span (and without spans for what they do, such as readiness's query).
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def sampler(ratio: float) -> Sampler:
    """Keep `ratio` of the traces that start here; follow the parent's decision otherwise (a
    caller's, carried in traceparent), so a trace is kept whole across processes or not."""
    return ParentBased(TraceIdRatioBased(ratio))


def configure_tracing(
    service: str,
    otlp_endpoint: str = "",
    *,
    sample_ratio: float = 1.0,
    processor: SpanProcessor | None = None,
) -> None:
    """Set this process's tracer provider (once; later calls do nothing). Spans are exported
    to `otlp_endpoint` (OTLP/gRPC), or handed to `processor` (tests: agencyos.testing.spans);
    with neither, only the context is propagated and no client or database spans are made."""
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": f"agencyos-{service}"})
    if processor is None and otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        processor = BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint))
    provider = TracerProvider(resource=resource, sampler=sampler(sample_ratio))
    trace.set_tracer_provider(provider)
    _configured = True
    if processor is None:
        return
    provider.add_span_processor(processor)
    # Database statements through a provider of their own whose roots are never sampled:
    # a statement is recorded only inside a trace that is (a request, a call, an event).
    global _statements
    _statements = TracerProvider(resource=resource, sampler=ParentBased(ALWAYS_OFF))
    _statements.add_span_processor(processor)
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().instrument(tracer_provider=provider)


def trace_statements(engine: AsyncEngine) -> None:
    """A client span for each SQL statement `engine` runs inside a traced unit of work (none
    unless spans are exported; an engine made before `configure_tracing` is not traced).
    Called for each engine as it is made (Database), rather than by patching
    `create_async_engine`, which the modules imported before tracing is set up already hold."""
    if _statements is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import engine as sqlalchemy_tracing
    from opentelemetry.metrics import NoOpMeterProvider

    # The instrumentation also counts pool connections; our own gauge does (metrics.py).
    usage = NoOpMeterProvider().get_meter(__name__).create_up_down_counter("unused")
    sqlalchemy_tracing.EngineTracer(  # type: ignore[no-untyped-call]
        _statements.get_tracer("opentelemetry.instrumentation.sqlalchemy"),
        engine.sync_engine,
        usage,
    )


@contextmanager
def untraced() -> Iterator[None]:
    """No spans inside (instrumented libraries' included): probes, metrics scrapes."""
    from opentelemetry.instrumentation.utils import suppress_instrumentation

    with suppress_instrumentation():
        yield


def tracer(name: str = "agencyos") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(
    carrier: dict[str, str] | None = None, ctx: context.Context | None = None
) -> dict[str, str]:
    """The current (or given) trace context as text headers (HTTP, gRPC metadata)."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier, context=ctx)
    return carrier


def extract_context(headers: Mapping[str, str]) -> context.Context:
    return propagate.extract(dict(headers))


def kafka_headers() -> list[tuple[str, bytes]]:
    return [(k, v.encode()) for k, v in inject_headers().items()]


def context_from_kafka_headers(headers: Iterable[tuple[str, bytes]] | None) -> context.Context:
    return propagate.extract({k: v.decode(errors="replace") for k, v in headers or ()})


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def span_attributes(**attrs: Any) -> dict[str, Any]:
    return {k: v for k, v in attrs.items() if v is not None}


def automation_depth(ctx: context.Context | None = None) -> int:
    """The automation depth of the current (or given) context: 0 when no automation led here."""
    raw = baggage.get_baggage(AUTOMATION_DEPTH_BAGGAGE, ctx)
    try:
        depth = int(str(raw)) if raw is not None else 0
    except ValueError:
        return 0
    return max(0, min(depth, 1000))


def with_automation_depth(depth: int, ctx: context.Context | None = None) -> context.Context:
    """A context whose work (and every event and peer call made in it) is `depth` automation
    actions deep; attach it around the action (`context.attach` / `context.detach`)."""
    return baggage.set_baggage(AUTOMATION_DEPTH_BAGGAGE, str(max(0, depth)), ctx)
