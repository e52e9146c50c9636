"""Traces an on-call engineer can read, through the OpenTelemetry SDK in this process: server
spans named by route template (none for probes), statement spans under them, client spans for
gRPC and HTTP calls whose context the peer continues, a producer span per relayed event and a
consumer span per handled one, all in the trace of the request that wrote the event; and an
edge that lets no caller join or steer a trace. Against the real PostgreSQL, Kafka, a real
grpc.aio server and a real HTTP server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.sampling import Decision, ParentBased
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agencyos.common.auth import JwksVerifier, principal_from_claims
from agencyos.common.consumer import ConsumerRunner, Subscription
from agencyos.common.db import Database
from agencyos.common.outbox import OutboxRelay, new_producer
from agencyos.common.rpc import call, channel, rpc_principal, rpc_session, start_grpc_server
from agencyos.common.tracing import (
    AUTOMATION_DEPTH_BAGGAGE,
    automation_depth,
    inject_headers,
    sampler,
    tracer,
)
from agencyos.common.web import RequestContextMiddleware
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.infra import Infra, free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys
from agencyos.testing.spans import SpanRecorder, span_recorder
from agencyos.testing.webhook_receiver import WebhookReceiver

from .conftest import insert_widget_row
from .test_outbox import SERVICE as OUTBOX_SERVICE
from .test_outbox import publish_widget_event

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module", autouse=True)
def recorder() -> SpanRecorder:
    """Tracing set up before any database or app of this module is made."""
    return span_recorder()


@pytest.fixture
def spans(recorder: SpanRecorder) -> Iterator[SpanRecorder]:
    with recorder.recording():
        yield recorder


@pytest.fixture(scope="module")
async def traced_db(infra: Infra, scratch_db: str) -> AsyncIterator[Database]:
    database = Database(infra.dsn(scratch_db), pool_size=2)
    yield database
    await database.dispose()


def statements_under(spans: SpanRecorder, parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans.children_of(parent) if s.kind == SpanKind.CLIENT]


def is_child(child: ReadableSpan, parent: ReadableSpan) -> bool:
    return (
        child.parent is not None
        and parent.context is not None
        and child.parent.span_id == parent.context.span_id
        and child.context is not None
        and child.context.trace_id == parent.context.trace_id
    )


class TestRequestSpans:
    async def test_a_request_span_is_named_by_its_route_template_not_its_path(
        self,
        spans: SpanRecorder,
        client: httpx.AsyncClient,
        bearer: Callable[..., dict[str, str]],
        tenant: uuid.UUID,
    ) -> None:
        widget_id = uuid.uuid4()

        response = await client.get(f"/widgets/{widget_id}", headers=bearer(tenant))

        assert response.status_code == 404
        server = spans.one("GET /widgets/{widget_id}")
        assert server.kind == SpanKind.SERVER
        assert server.attributes is not None
        assert server.attributes["http.route"] == "/widgets/{widget_id}"
        assert server.attributes["http.response.status_code"] == 404
        assert not [name for name in spans.names() if str(widget_id) in name]

    async def test_the_requests_statements_are_spans_under_it(
        self,
        spans: SpanRecorder,
        client: httpx.AsyncClient,
        bearer: Callable[..., dict[str, str]],
        tenant: uuid.UUID,
    ) -> None:
        await client.post("/widgets", json={"name": "traced"}, headers=bearer(tenant))

        server = spans.one("POST /widgets")
        statements = statements_under(spans, server)
        texts = [str((s.attributes or {}).get("db.statement", "")) for s in statements]
        assert any(text.startswith("INSERT INTO widgets") for text in texts), texts
        # The statement's text, never its parameters (the widget's name).
        assert not [text for text in texts if "traced" in text]

    async def test_probes_make_no_span_at_all(
        self, spans: SpanRecorder, client: httpx.AsyncClient
    ) -> None:
        for path in ("/healthz", "/readyz"):
            assert (await client.get(path)).status_code == 200

        assert spans.spans == []

    async def test_a_service_continues_the_trace_its_caller_sends(
        self,
        spans: SpanRecorder,
        client: httpx.AsyncClient,
        bearer: Callable[..., dict[str, str]],
        tenant: uuid.UUID,
    ) -> None:
        with tracer().start_as_current_span("caller") as caller:
            headers = {**bearer(tenant), **inject_headers()}
        await client.get(f"/widgets/{uuid.uuid4()}", headers=headers)

        assert is_child(spans.one("GET /widgets/{widget_id}"), caller)  # type: ignore[arg-type]

    async def test_a_crash_is_an_error_span(
        self,
        spans: SpanRecorder,
        client: httpx.AsyncClient,
        bearer: Callable[..., dict[str, str]],
        tenant: uuid.UUID,
    ) -> None:
        await client.post("/widgets/crashing", json={"name": "x"}, headers=bearer(tenant))

        assert spans.one("POST /widgets/crashing").status.status_code == trace.StatusCode.ERROR


def edge_app() -> Any:
    """A tiny app behind the middleware as the gateway runs it (edge=True): it answers the
    trace id and the automation depth it runs under."""

    async def echo(request: Request) -> JSONResponse:
        context = trace.get_current_span().get_span_context()
        return JSONResponse(
            {"trace_id": format(context.trace_id, "032x"), "depth": automation_depth()}
        )

    from starlette.applications import Starlette

    return RequestContextMiddleware(
        Starlette(routes=[Route("/echo", echo)]), service="edge-test", edge=True
    )


class TestTheEdge:
    async def test_the_gateway_starts_its_own_trace_whatever_the_client_sends(
        self, spans: SpanRecorder
    ) -> None:
        forged_trace = "0af7651916cd43dd8448eb211c80319c"
        headers = {
            "traceparent": f"00-{forged_trace}-b7ad6b7169203331-01",
            "baggage": f"{AUTOMATION_DEPTH_BAGGAGE}=999",
        }
        transport = httpx.ASGITransport(app=edge_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://edge.test") as edge:
            answer = (await edge.get("/echo", headers=headers)).json()

        assert answer["trace_id"] != forged_trace
        # A client cannot stop the agency's automations by claiming a deep chain.
        assert answer["depth"] == 0
        assert spans.one("GET /echo").parent is None


class Member(identity_pb2_grpc.IdentityServiceServicer):
    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        principal = rpc_principal()
        await insert_widget_row(rpc_session(), principal.tenant_id, request.user_id)
        return identity_pb2.Member(user_id=request.user_id, agency_id=str(principal.tenant_id))


@pytest.fixture(scope="module")
async def grpc_target(jwks_url: str, traced_db: Database) -> AsyncIterator[str]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)
    service_name = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(Member(), server)
        return [service_name]

    port = free_port()
    server = await start_grpc_server(
        "tracing-test", verifier, register, "127.0.0.1", port, database=traced_db
    )
    yield f"127.0.0.1:{port}"
    await server.stop(None)
    await verifier.close()


class TestGrpcSpans:
    async def test_a_peer_call_is_a_client_span_whose_context_the_peer_continues(
        self, spans: SpanRecorder, grpc_target: str, test_keys: TestKeys, tenant: uuid.UUID
    ) -> None:
        claims = {"tid": str(tenant), "sub": str(uuid.uuid4()), "role": "member"}
        token = test_keys.mint(**claims)
        principal = principal_from_claims(test_keys.claims(**claims), token)
        stub = identity_pb2_grpc.IdentityServiceStub(channel(grpc_target))
        with tracer().start_as_current_span("work") as work:
            await call(
                stub.GetMember,
                identity_pb2.GetMemberRequest(user_id="grpc-traced"),
                principal=principal,
            )

        method = "agencyos.identity.v1.IdentityService/GetMember"
        client_spans = [s for s in spans.named(method) if s.kind == SpanKind.CLIENT]
        server_spans = [s for s in spans.named(method) if s.kind == SpanKind.SERVER]
        assert len(client_spans) == 1
        assert len(server_spans) == 1
        assert is_child(client_spans[0], work)  # type: ignore[arg-type]
        # Not a sibling of the client span (the caller's own context): its child.
        assert is_child(server_spans[0], client_spans[0])
        assert statements_under(spans, server_spans[0])

    async def test_a_failed_call_is_an_error_client_span(
        self, spans: SpanRecorder, grpc_target: str
    ) -> None:
        stub = identity_pb2_grpc.IdentityServiceStub(channel(grpc_target))

        with pytest.raises(grpc.aio.AioRpcError):
            await stub.GetMember(identity_pb2.GetMemberRequest(user_id="no-token"))

        method = "agencyos.identity.v1.IdentityService/GetMember"
        (client_span,) = [s for s in spans.named(method) if s.kind == SpanKind.CLIENT]
        assert client_span.status.status_code == trace.StatusCode.ERROR
        assert (client_span.attributes or {})["rpc.grpc.status_code"] == 16  # UNAUTHENTICATED


class TestHttpClientSpans:
    async def test_an_outgoing_http_call_is_a_client_span_the_server_sees_as_parent(
        self, spans: SpanRecorder
    ) -> None:
        with WebhookReceiver() as receiver:
            with tracer().start_as_current_span("work") as work:
                async with httpx.AsyncClient() as http:
                    await http.post(receiver.url("/hook"), content=b"{}")
            (received,) = receiver.received("/hook")

        (client_span,) = spans.of_kind(SpanKind.CLIENT)
        assert client_span.name == "POST"
        assert is_child(client_span, work)  # type: ignore[arg-type]
        assert client_span.context is not None
        assert received.headers["traceparent"].split("-")[2] == format(
            client_span.context.span_id, "016x"
        )


class TestEventSpans:
    async def test_relay_and_consumer_spans_join_the_trace_of_the_work_that_wrote_the_event(
        self,
        spans: SpanRecorder,
        traced_db: Database,
        infra: Infra,
        kafka_topics: str,
        tenant: uuid.UUID,
        kafka: Any,
    ) -> None:
        with tracer().start_as_current_span("request") as request_span:
            event = await publish_widget_event(traced_db, tenant, "evented")
        relay = OutboxRelay(
            OUTBOX_SERVICE, traced_db, infra.kafka_bootstrap, topic_prefix=kafka_topics
        )
        producer: AIOKafkaProducer = new_producer(infra.kafka_bootstrap, "tracing-test-relay")
        await producer.start()
        try:
            while await relay.publish_batch(producer):
                pass
        finally:
            await producer.stop()
        topic = f"{kafka_topics}{OUTBOX_SERVICE}.events"
        (record,) = [
            r for r in await kafka.read_all(topic) if json.loads(r.value)["id"] == str(event.id)
        ]
        handled: list[uuid.UUID] = []

        async def handler(session: Any, received: Any) -> None:
            handled.append(received.id)

        runner = ConsumerRunner(
            f"tracing-{uuid.uuid4().hex[:8]}",
            traced_db,
            infra.kafka_bootstrap,
            Subscription({event.type: handler}),
            topic_prefix=kafka_topics,
        )
        assert await runner.handle_record(record) == "ok"

        # The relay publishes every waiting row of the shared scratch database (other tests'
        # too): this event's send span is the one in the request's trace.
        trace_id = request_span.get_span_context().trace_id
        (send,) = [
            span
            for span in spans.named(f"send {event.type}")
            if span.context is not None and span.context.trace_id == trace_id
        ]
        process = spans.one(f"process {event.type}")
        assert send.kind == SpanKind.PRODUCER
        assert process.kind == SpanKind.CONSUMER
        assert is_child(send, request_span)  # type: ignore[arg-type]
        assert is_child(process, send)
        assert (process.attributes or {})["messaging.message.id"] == str(event.id)
        # The handler's own statements (the inbox row) are under the consumer span.
        assert statements_under(spans, process)
        assert handled == [event.id]

    async def test_the_relays_polling_records_nothing(
        self, spans: SpanRecorder, traced_db: Database, infra: Infra, kafka_topics: str
    ) -> None:
        relay = OutboxRelay(
            OUTBOX_SERVICE, traced_db, infra.kafka_bootstrap, topic_prefix=kafka_topics
        )
        producer = new_producer(infra.kafka_bootstrap, "tracing-test-idle-relay")
        await producer.start()
        try:
            while await relay.publish_batch(producer):
                pass
            spans.spans.clear()
            assert await relay.publish_batch(producer) == 0
        finally:
            await producer.stop()

        assert spans.spans == []


class TestSampling:
    def test_a_trace_is_kept_or_dropped_where_it_starts_and_followed_after(self) -> None:
        never, always = sampler(0.0), sampler(1.0)
        assert isinstance(never, ParentBased)
        root = never.should_sample(None, 1, "root")
        assert root.decision == Decision.DROP
        assert always.should_sample(None, 1, "root").decision == Decision.RECORD_AND_SAMPLE

        with tracer().start_as_current_span("sampled parent"):
            assert never.should_sample(otel_context.get_current(), 1, "child").decision == (
                Decision.RECORD_AND_SAMPLE
            )
