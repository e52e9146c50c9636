"""OpenTelemetry tracing, propagated over HTTP headers, gRPC metadata and Kafka headers.

Export is off unless an OTLP endpoint is configured; context propagation (W3C traceparent)
always works, so trace ids in logs line up across services either way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import baggage, context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False

# How many automation actions in a row led to the work being done now: carried as W3C baggage
# (so it crosses HTTP, gRPC and Kafka with the trace context) and recorded on every event
# published meanwhile as the CloudEvent extension `automationdepth`. The automation engine
# stops a chain that reaches its maximum depth.
AUTOMATION_DEPTH_BAGGAGE = "agencyos.automation_depth"
AUTOMATION_DEPTH_EXTENSION = "automationdepth"


def configure_tracing(service: str, otlp_endpoint: str = "") -> None:
    global _configured
    if _configured:
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"agencyos-{service}"}))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str = "agencyos") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers(carrier: dict[str, str] | None = None) -> dict[str, str]:
    """The current trace context as text headers (HTTP, gRPC metadata)."""
    carrier = {} if carrier is None else carrier
    propagate.inject(carrier)
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
