"""Traces in the chart: every pod is told where the collector is and how many traces to keep
(global.otlpEndpoint, global.traceSampleRatio), and the NetworkPolicies let it reach the
collector when the values open the way (ci/tracing-values.yaml, the collector of
deploy/k8s/otel-collector.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .chart_support import CHART, KUBE_VERSION, RELEASE, helm, of_kind, run

TRACING_VALUES = CHART / "ci" / "tracing-values.yaml"
DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
COLLECTOR = "http://agencyos-otel-collector.monitoring:4317"


def config_of(values: Path) -> dict[str, str]:
    (config,) = of_kind(values, "ConfigMap")
    data: dict[str, str] = config["data"]
    return data


def test_every_pod_is_told_the_collector_and_the_sampling_ratio() -> None:
    data = config_of(TRACING_VALUES)

    assert data["AGENCYOS_OTLP_ENDPOINT"] == COLLECTOR
    assert data["AGENCYOS_TRACE_SAMPLE_RATIO"] == "0.1"


def test_without_an_endpoint_nothing_is_exported_and_every_trace_would_be_kept() -> None:
    data = config_of(DEFAULT_VALUES)

    assert "AGENCYOS_OTLP_ENDPOINT" not in data
    assert float(data["AGENCYOS_TRACE_SAMPLE_RATIO"]) == 1.0


def test_every_network_policy_lets_its_pods_reach_the_collector() -> None:
    policies = of_kind(TRACING_VALUES, "NetworkPolicy")
    assert policies
    for policy in policies:
        to_collector = [
            rule
            for rule in policy["spec"]["egress"]
            if {"port": 4317, "protocol": "TCP"} in rule.get("ports", [])
        ]
        assert len(to_collector) == 1, policy["metadata"]["name"]
        (peer,) = to_collector[0]["to"]
        assert peer["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "monitoring"
        }
        assert peer["podSelector"]["matchLabels"] == {
            "app.kubernetes.io/name": "agencyos-otel-collector"
        }


@pytest.mark.parametrize("ratio", ["1.5", "-0.1", "half"])
def test_a_sampling_ratio_outside_zero_to_one_is_refused(ratio: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(f"global:\n  traceSampleRatio: {ratio}\n")
    result = run(
        helm(), "template", RELEASE, str(CHART), "-f", str(bad), "--kube-version", KUBE_VERSION
    )
    assert result.returncode != 0, "helm template accepted the ratio"
    assert "traceSampleRatio" in result.stderr, result.stderr
