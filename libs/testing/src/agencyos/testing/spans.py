"""The spans this test process makes, through the OpenTelemetry SDK (in-process tier).

`span_recorder()` sets up tracing for the process once (agencyos.common.tracing, as a service
with an OTLP endpoint would, but handing the spans to a recorder) and returns the recorder;
a test records between `start()` and `stop()`, so the spans of other tests never pile up.
Tracing is set up once per process: a Database made before it has no statement spans.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import SpanKind

from agencyos.common.tracing import configure_tracing


class SpanRecorder(SpanProcessor):
    """Keeps every span that ends while it records."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self._recording = False

    def on_end(self, span: ReadableSpan) -> None:
        if self._recording:
            self.spans.append(span)

    @contextmanager
    def recording(self) -> Iterator[list[ReadableSpan]]:
        self.spans = []
        self._recording = True
        try:
            yield self.spans
        finally:
            self._recording = False

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r} in {self.names()}"
        return found[0]

    def of_kind(self, kind: SpanKind) -> list[ReadableSpan]:
        return [span for span in self.spans if span.kind == kind]

    def names(self) -> list[str]:
        return [span.name for span in self.spans]

    def children_of(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [
            span
            for span in self.spans
            if span.parent is not None and span.parent.span_id == parent.context.span_id
        ]


_recorder: SpanRecorder | None = None


def span_recorder() -> SpanRecorder:
    global _recorder
    if _recorder is None:
        _recorder = SpanRecorder()
        configure_tracing("tests", processor=_recorder)
    return _recorder


def trace_ids(spans: Sequence[ReadableSpan]) -> set[int]:
    return {span.context.trace_id for span in spans if span.context is not None}
