"""The chart's monitoring for the Prometheus Operator and Grafana (values `monitoring`): a
PodMonitor per deployable, the PrometheusRule made from files/agencyos.rules.yml (the file the
promtool tests run) and the dashboards as ConfigMaps for Grafana's sidecar. All off by default.
The Operator's kinds have no schema in kubernetes-validate, so their shape is checked here."""

from __future__ import annotations

from pathlib import Path

import yaml

from .chart_support import (
    CHART,
    Manifest,
    chart_values,
    component_of,
    container_of,
    enabled_deployables,
    of_kind,
)

DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
MONITORING_VALUES = CHART / "ci" / "monitoring-values.yaml"
RULES = CHART / "files" / "agencyos.rules.yml"
DASHBOARDS = sorted((CHART / "files" / "dashboards").glob("*.json"))
REPOSITORY_RUNBOOKS = "https://github.com/agencyos/agencyos/blob/main/docs/runbooks/"


def _monitoring(values: Path) -> dict[str, object]:
    config: dict[str, object] = chart_values(values)["monitoring"]
    return config


def _deployments_by_component(values: Path) -> dict[str, Manifest]:
    return {component_of(obj): obj for obj in of_kind(values, "Deployment")}


class TestOffByDefault:
    def test_no_operator_objects_or_dashboards_unless_asked(self) -> None:
        assert not of_kind(DEFAULT_VALUES, "PodMonitor")
        assert not of_kind(DEFAULT_VALUES, "PrometheusRule")
        dashboards = [
            obj
            for obj in of_kind(DEFAULT_VALUES, "ConfigMap")
            if "grafana_dashboard" in obj["metadata"]["labels"]
        ]
        assert not dashboards


class TestPodMonitors:
    def test_one_per_deployable_selecting_exactly_its_pods(self) -> None:
        monitors = {component_of(obj): obj for obj in of_kind(MONITORING_VALUES, "PodMonitor")}
        deployments = _deployments_by_component(MONITORING_VALUES)
        assert set(monitors) == enabled_deployables(MONITORING_VALUES) == set(deployments)
        for name, monitor in monitors.items():
            selector = deployments[name]["spec"]["selector"]["matchLabels"]
            assert monitor["spec"]["selector"]["matchLabels"] == selector, name
            assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack", name

    def test_each_scrapes_the_port_that_serves_metrics(self) -> None:
        deployments = _deployments_by_component(MONITORING_VALUES)
        for monitor in of_kind(MONITORING_VALUES, "PodMonitor"):
            name = component_of(monitor)
            (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
            ports = {port["name"] for port in container_of(deployments[name])["ports"]}
            # the gateway's public port never serves /metrics: its metrics port does
            expected = "metrics" if "metrics" in ports else "http"
            assert endpoint["port"] == expected, name
            assert name != "gateway" or expected == "metrics"
            assert endpoint["path"] == "/metrics"
            assert endpoint["honorLabels"] is True

    def test_up_gets_the_service_and_part_of_labels_the_alerts_select_on(self) -> None:
        deployments = _deployments_by_component(MONITORING_VALUES)
        for monitor in of_kind(MONITORING_VALUES, "PodMonitor"):
            (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
            relabel = {r["targetLabel"]: r["sourceLabels"] for r in endpoint["relabelings"]}
            assert relabel["service"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_component"]
            assert relabel["part_of"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"]
            # ... and the pods carry those labels
            pod_labels = deployments[component_of(monitor)]["spec"]["template"]["metadata"][
                "labels"
            ]
            assert pod_labels["app.kubernetes.io/part-of"] == "agencyos"
            assert pod_labels["app.kubernetes.io/component"] == component_of(monitor)
        rules = RULES.read_text()
        assert 'up{part_of="agencyos"}' in rules


class TestPrometheusRule:
    def test_it_is_the_rules_file_with_the_configured_runbook_base(self) -> None:
        (rule,) = of_kind(MONITORING_VALUES, "PrometheusRule")
        base = str(_monitoring(MONITORING_VALUES)["runbookBaseUrl"]).rstrip("/") + "/"
        expected = yaml.safe_load(RULES.read_text().replace(REPOSITORY_RUNBOOKS, base))
        assert rule["spec"] == expected
        assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
        alerts = [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]
        assert alerts
        for alert in alerts:
            assert alert["annotations"]["runbook_url"] == f"{base}{alert['alert']}.md"

    def test_without_a_runbook_base_the_urls_point_at_the_repository(self, tmp_path: Path) -> None:
        values = tmp_path / "rule-values.yaml"
        values.write_text(
            "global: {environment: development}\nmonitoring:\n  prometheusRule: {enabled: true}\n"
        )
        (rule,) = of_kind(values, "PrometheusRule")
        assert rule["spec"] == yaml.safe_load(RULES.read_text())


class TestDashboards:
    def test_each_dashboard_file_is_a_configmap_for_the_grafana_sidecar(self) -> None:
        maps = [
            obj
            for obj in of_kind(MONITORING_VALUES, "ConfigMap")
            if obj["metadata"]["labels"].get("grafana_dashboard") == "1"
        ]
        assert DASHBOARDS
        assert len(maps) == len(DASHBOARDS)
        by_key = {key: (obj, value) for obj in maps for key, value in obj["data"].items()}
        for path in DASHBOARDS:
            obj, content = by_key[path.name]
            assert content == path.read_text().rstrip("\n")
            assert obj["metadata"]["namespace"] == "monitoring"
            assert obj["metadata"]["annotations"]["grafana_folder"] == "AgencyOS"
