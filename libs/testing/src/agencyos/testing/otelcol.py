"""A real OpenTelemetry Collector for the platform tier: OTLP/gRPC in on a free loopback port,
every span out to a file (the collector's file exporter, OTLP JSON, one line per batch) that
the test reads. The binary is built by deploy/local/install_otelcol.sh (`make tools`)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agencyos.testing.infra import free_port

REPO_ROOT = Path(__file__).resolve().parents[5]
BINARY = REPO_ROOT / ".run" / "bin" / "agencyos-otelcol"
INSTALL = REPO_ROOT / "deploy" / "local" / "install_otelcol.sh"

SPAN_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


@dataclass(frozen=True)
class ExportedSpan:
    """One span as the collector wrote it."""

    service: str
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, Any]


def _value(raw: dict[str, Any]) -> Any:
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in raw:
            return raw[key]
    if "intValue" in raw:
        return int(raw["intValue"])
    return raw


def _attributes(raw: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: _value(item.get("value", {})) for item in raw or ()}


def parse_spans(lines: Iterator[str]) -> list[ExportedSpan]:
    spans = []
    for line in lines:
        if not line.strip():
            continue
        for resource_spans in json.loads(line).get("resourceSpans", ()):
            service = str(
                _attributes(resource_spans.get("resource", {}).get("attributes")).get(
                    "service.name", ""
                )
            )
            for scope_spans in resource_spans.get("scopeSpans", ()):
                for span in scope_spans.get("spans", ()):
                    spans.append(
                        ExportedSpan(
                            service=service,
                            name=span["name"],
                            kind=SPAN_KINDS.get(int(span.get("kind", 0)), "unspecified"),
                            trace_id=span["traceId"],
                            span_id=span["spanId"],
                            parent_span_id=span.get("parentSpanId", ""),
                            attributes=_attributes(span.get("attributes")),
                        )
                    )
    return spans


@dataclass
class Collector:
    log_dir: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """What the services' AGENCYOS_OTLP_ENDPOINT names."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> Path:
        return self.log_dir / "otelcol-spans.jsonl"

    def config(self) -> str:
        # JSON is YAML: the collector reads this file as its configuration.
        return json.dumps(
            {
                "receivers": {
                    "otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{self.port}"}}}
                },
                "processors": {"batch": {"timeout": "200ms"}},
                "exporters": {"file": {"path": str(self.output), "flush_interval": "100ms"}},
                "service": {
                    # No metrics server of its own (its default port would collide).
                    "telemetry": {"metrics": {"level": "none"}},
                    "pipelines": {
                        "traces": {
                            "receivers": ["otlp"],
                            "processors": ["batch"],
                            "exporters": ["file"],
                        }
                    },
                },
            },
            indent=2,
        )

    async def start(self) -> None:
        if not BINARY.exists():
            await asyncio.to_thread(subprocess.run, ["bash", str(INSTALL)], check=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        config = self.log_dir / "otelcol.yaml"
        config.write_text(self.config())
        log = (self.log_dir / "otelcol.log").open("wb")
        self.popen = subprocess.Popen(
            [str(BINARY), "--config", f"file:{config}"], stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"the collector exited: {self.log_tail()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise RuntimeError(f"the collector did not listen on {self.port}: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.log_dir / "otelcol.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def spans(self) -> list[ExportedSpan]:
        try:
            with self.output.open() as lines:
                return parse_spans(iter(lines))
        except FileNotFoundError:
            return []

    async def wait_for(
        self, found: Callable[[list[ExportedSpan]], bool], timeout: float = 60.0
    ) -> list[ExportedSpan]:
        """The spans written so far, once `found` holds for them (or after `timeout`)."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if found(spans) or time.monotonic() > deadline:
                return spans
            await asyncio.sleep(0.25)

    async def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.terminate()
        try:
            await asyncio.to_thread(self.popen.wait, 10)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            await asyncio.to_thread(self.popen.wait)
