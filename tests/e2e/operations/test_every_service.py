"""What an SRE and Kubernetes expect of every service (ARCHITECTURE.md §7): liveness,
readiness, Prometheus metrics, gRPC health checking and reflection."""

from __future__ import annotations

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from agencyos.common.services import SERVICES
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("service", SERVICES)
class TestEveryService:
    async def test_it_is_live_and_ready(self, platform: Platform, service: str) -> None:
        async with httpx.AsyncClient(base_url=platform.url(service)) as client:
            assert (await client.get("/healthz")).status_code == 200
            ready = await client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok"}

    async def test_it_exposes_prometheus_metrics(self, platform: Platform, service: str) -> None:
        async with httpx.AsyncClient(base_url=platform.url(service)) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        names = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"agencyos_http_requests", "agencyos_outbox_backlog"} <= names

    async def test_it_serves_grpc_health_checking(self, platform: Platform, service: str) -> None:
        async with grpc.aio.insecure_channel(platform.grpc_target(service)) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            answer = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    async def test_it_serves_grpc_reflection(self, platform: Platform, service: str) -> None:
        async with grpc.aio.insecure_channel(platform.grpc_target(service)) as channel:
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            names: set[str] = set()
            async for response in stub.ServerReflectionInfo(iter([request]), timeout=5):
                names |= {s.name for s in response.list_services_response.service}
        assert "grpc.health.v1.Health" in names
