"""The OpenTelemetry Collector shipped beside the platform: in docker-compose.dev.yml (every
container sends its spans to it) and as an optional Kubernetes install
(deploy/k8s/otel-collector.yaml, which the chart's ci/tracing-values.yaml points at). Their
configurations are checked by a real collector (`validate`): the one the tests build from
deploy/local/otelcol, of the same release as the images named here."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.dev.yml"
COMPOSE_CONFIG = REPO / "deploy" / "docker" / "otel-collector.yaml"
K8S = REPO / "deploy" / "k8s" / "otel-collector.yaml"
TRACING_VALUES = REPO / "charts" / "agencyos" / "ci" / "tracing-values.yaml"
GO_MOD = REPO / "deploy" / "local" / "otelcol" / "go.mod"
BINARY = REPO / ".run" / "bin" / "agencyos-otelcol"
INSTALL = REPO / "deploy" / "local" / "install_otelcol.sh"


def collector_release() -> str:
    found = re.search(r"go\.opentelemetry\.io/collector/otelcol v0\.(\d+)\.\d+", GO_MOD.read_text())
    assert found, "deploy/local/otelcol/go.mod names no collector release"
    return f"0.{found.group(1)}.0"


@pytest.fixture(scope="module")
def collector() -> Path:
    if not BINARY.exists():
        subprocess.run(["bash", str(INSTALL)], check=True)
    return BINARY


def validate(collector: Path, config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yaml"
    path.write_text(config)
    return subprocess.run(
        [str(collector), "validate", "--config", f"file:{path}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def k8s_docs() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(K8S.read_text()) if doc}


class TestCompose:
    @pytest.fixture(scope="class")
    def compose(self) -> dict[str, Any]:
        services: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())["services"]
        return services

    def test_every_application_container_sends_its_spans_to_the_collector(
        self, compose: dict[str, Any]
    ) -> None:
        apps = {
            name: service
            for name, service in compose.items()
            if str(service.get("image", "")).startswith("agencyos-")
            and not name.startswith("migrate-")
        }
        assert "gateway" in apps
        assert len(apps) == 8
        for name, service in apps.items():
            endpoint = service["environment"]["AGENCYOS_OTLP_ENDPOINT"]
            assert endpoint.endswith(":-http://otel-collector:4317}"), name

    def test_the_collector_runs_the_checked_configuration_at_the_tested_release(
        self, compose: dict[str, Any]
    ) -> None:
        collector = compose["otel-collector"]
        assert collector["image"] == f"otel/opentelemetry-collector-contrib:{collector_release()}"
        assert (
            "./deploy/docker/otel-collector.yaml:/etc/otelcol/config.yaml:ro"
            in (collector["volumes"])
        )
        assert "4317:4317" in collector["ports"]

    def test_its_configuration_is_valid(self, collector: Path, tmp_path: Path) -> None:
        config = COMPOSE_CONFIG.read_text().replace("/traces/", f"{tmp_path}/")
        result = validate(collector, config, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_a_broken_configuration_is_refused(self, collector: Path, tmp_path: Path) -> None:
        # The check can fail: an exporter the pipeline names but nobody defines.
        config = COMPOSE_CONFIG.read_text().replace("[debug, file]", "[debug, file, otlp/nowhere]")
        result = validate(collector, config, tmp_path)
        assert result.returncode != 0


class TestKubernetes:
    def test_its_configuration_is_valid(self, collector: Path, tmp_path: Path) -> None:
        config = k8s_docs()["ConfigMap"]["data"]["config.yaml"]
        result = validate(collector, config, tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr

    def test_it_is_what_the_charts_tracing_values_point_at(self) -> None:
        docs = k8s_docs()
        values = yaml.safe_load(TRACING_VALUES.read_text())["global"]
        service = docs["Service"]
        ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
        assert values["otlpEndpoint"] == (
            f"http://{service['metadata']['name']}.monitoring:{ports['otlp-grpc']}"
        )
        (egress,) = values["networkPolicy"]["extraEgress"]
        selector = egress["to"][0]["podSelector"]["matchLabels"]
        pod_labels = docs["Deployment"]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= pod_labels.items()
        assert egress["ports"] == [{"port": ports["otlp-grpc"], "protocol": "TCP"}]

    def test_it_runs_the_tested_release_unprivileged(self) -> None:
        pod = k8s_docs()["Deployment"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["image"] == f"otel/opentelemetry-collector-contrib:{collector_release()}"
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert {"requests", "limits"} <= set(container["resources"])
