"""One trace an on-call engineer can follow across the platform, as a real OpenTelemetry
Collector received it from every process: a project created through the gateway is one trace
from the gateway, through work (which asks CRM over gRPC for the client and writes
`work.project.created` to its outbox), to the relay's publication on Kafka and the consumers
that handle the event (CRM's and time's). The platform here exports to a collector of its own
(its own processes, ~40 s to start), which writes what it receives to a file this test reads."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.factories import create_crm_client, new_project, signup_agency
from agencyos.testing.infra import Infra
from agencyos.testing.otelcol import Collector, ExportedSpan
from agencyos.testing.platform import REPO_ROOT, Platform

pytestmark = [pytest.mark.e2e, pytest.mark.platform]

CREATED = "work.project.created"
GET_CLIENT = "agencyos.crm.v1.CrmService/GetClients"


@pytest.fixture(scope="module")
async def traced_platform(infra: Infra) -> AsyncIterator[tuple[Platform, Collector]]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    log_dir = REPO_ROOT / ".run" / "test-logs" / f"{time.strftime('%Y%m%d-%H%M%S')}-traces-{worker}"
    collector = Collector(log_dir)
    await collector.start()
    running = Platform(infra=infra, log_dir=log_dir, otlp_endpoint=collector.endpoint)
    try:
        await running.start()
        yield running, collector
    finally:
        await running.stop()
        await collector.stop()


def one(spans: list[ExportedSpan], service: str, name: str, kind: str) -> ExportedSpan:
    found = [s for s in spans if (s.service, s.name, s.kind) == (service, name, kind)]
    assert len(found) == 1, f"{len(found)} {kind} spans {name!r} of {service}: {describe(spans)}"
    return found[0]


def describe(spans: list[ExportedSpan]) -> list[str]:
    return [f"{s.service} {s.kind} {s.name}" for s in spans]


def parent_of(span: ExportedSpan, spans: list[ExportedSpan]) -> ExportedSpan:
    (parent,) = [s for s in spans if s.span_id == span.parent_span_id]
    return parent


async def test_a_request_is_one_trace_from_the_gateway_through_grpc_and_kafka_to_consumers(
    traced_platform: tuple[Platform, Collector],
) -> None:
    platform, collector = traced_platform
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30.0) as gateway:
        agency = await signup_agency(gateway)
        client_id = await create_crm_client(platform, agency)
        project = await new_project(gateway, agency, client_id=str(client_id))

    def gateway_root(spans: list[ExportedSpan]) -> ExportedSpan | None:
        roots = [
            s
            for s in spans
            if s.service == "agencyos-gateway"
            and s.kind == "server"
            and s.name == "POST /v1/projects"
        ]
        return roots[-1] if roots else None

    def complete(spans: list[ExportedSpan]) -> bool:
        root = gateway_root(spans)
        if root is None:
            return False
        in_trace = [s for s in spans if s.trace_id == root.trace_id]
        # CRM (GetClients) and the consumers that handle `work.project.created` (CRM's and
        # time's, when this was written), each of which sends its spans on its own schedule.
        return {"agencyos-crm", "agencyos-time"} <= {
            s.service for s in in_trace if s.kind == "consumer"
        }

    spans = await collector.wait_for(complete, timeout=90)
    root = gateway_root(spans)
    assert root is not None, f"no gateway span for the request: {describe(spans)[-40:]}"
    trace = [s for s in spans if s.trace_id == root.trace_id]

    # The gateway's span is where the trace starts; its forward is an HTTP client span.
    assert root.parent_span_id == ""
    work = one(trace, "agencyos-work", "POST /v1/projects", "server")
    forward = parent_of(work, trace)
    assert (forward.service, forward.kind) == ("agencyos-gateway", "client")
    assert parent_of(forward, trace) == root

    # work asks CRM over gRPC: work's client span, CRM's server span under it.
    crm = one(trace, "agencyos-crm", GET_CLIENT, "server")
    grpc_call = parent_of(crm, trace)
    assert (grpc_call.service, grpc_call.kind, grpc_call.name) == (
        "agencyos-work",
        "client",
        GET_CLIENT,
    )
    # CRM's statements are in the trace too, under its server span.
    assert [s for s in trace if s.service == "agencyos-crm" and s.parent_span_id == crm.span_id]

    # The relay's publication is a child of the request that wrote the event...
    send = one(trace, "agencyos-work", f"send {CREATED}", "producer")
    assert parent_of(send, trace) == work
    assert send.attributes["messaging.message.id"]
    # ...and each consumer's handling of it a child of the publication.
    consumers = [s for s in trace if s.kind == "consumer" and s.name == f"process {CREATED}"]
    assert consumers, describe(trace)
    assert {s.parent_span_id for s in consumers} == {send.span_id}
    assert {"agencyos-crm", "agencyos-time"} <= {s.service for s in consumers}
    assert {s.attributes["messaging.message.id"] for s in consumers} == {
        send.attributes["messaging.message.id"]
    }

    # Named by route template: no id in any span's name.
    assert not [s.name for s in trace if project["id"] in s.name or str(client_id) in s.name]


async def test_probes_leave_no_trace(traced_platform: tuple[Platform, Collector]) -> None:
    platform, collector = traced_platform
    async with httpx.AsyncClient(base_url=platform.url("crm")) as crm:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await crm.get(path)).status_code == 200
        marker = await crm.get("/v1/clients")  # 401: a request that does leave a span
    assert marker.status_code == 401

    spans = await collector.wait_for(
        lambda found: any(
            s.service == "agencyos-crm" and s.name == "GET /v1/clients" for s in found
        ),
        timeout=30,
    )
    assert [s for s in spans if s.service == "agencyos-crm" and s.name == "GET /v1/clients"]
    probes = [s for s in spans if any(p in s.name for p in ("/healthz", "/readyz", "/metrics"))]
    assert probes == []
