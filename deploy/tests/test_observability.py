"""The Grafana dashboard and Prometheus rules only use metrics AgencyOS exports, and parse.

PromQL is checked by promtool (Debian's prometheus package, unpacked by
deploy/local/install_promtool.sh, TOOLCHAIN 4): the rules file directly, the dashboard's queries
as recording rules in a scratch file. Metric and label names are checked against the list below,
which mirrors what agencyos.common's metrics module exports.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "charts" / "agencyos" / "files" / "dashboards" / "agencyos-overview.json"
RULES = REPO / "charts" / "agencyos" / "files" / "agencyos.rules.yml"
RULE_TESTS = REPO / "charts" / "tests" / "prometheus" / "agencyos.rules.test.yml"

# name -> (type, labels)
METRICS: dict[str, tuple[str, frozenset[str]]] = {
    "agencyos_http_requests_total": (
        "counter",
        frozenset({"service", "method", "route", "status"}),
    ),
    "agencyos_http_request_duration_seconds": (
        "histogram",
        frozenset({"service", "method", "route"}),
    ),
    "agencyos_grpc_requests_total": ("counter", frozenset({"service", "grpc_method", "code"})),
    "agencyos_grpc_request_duration_seconds": ("histogram", frozenset({"service", "grpc_method"})),
    "agencyos_kafka_consumer_lag": (
        "gauge",
        frozenset({"service", "consumer", "topic", "partition"}),
    ),
    "agencyos_kafka_consumer_last_poll_timestamp_seconds": (
        "gauge",
        frozenset({"service", "consumer"}),
    ),
    "agencyos_kafka_handling_duration_seconds": ("histogram", frozenset({"service", "event_type"})),
    "agencyos_kafka_events_handled_total": (
        "counter",
        frozenset({"service", "event_type", "outcome"}),
    ),
    "agencyos_outbox_backlog": ("gauge", frozenset({"service"})),
    "agencyos_kafka_reachable": ("gauge", frozenset({"service"})),
    "agencyos_outbox_published_total": ("counter", frozenset({"service"})),
}
# Series that are not AgencyOS's own but that the platform alerts read: Prometheus' `up` (with
# the target labels the chart's PodMonitor adds) and kube-state-metrics (with the pods' and
# jobs' labels exported by --metric-labels-allowlist, as the chart README says).
EXTERNAL: dict[str, tuple[str, frozenset[str]]] = {
    "up": (
        "gauge",
        frozenset({"service", "part_of", "pod", "namespace", "job", "instance", "container"}),
    ),
    "kube_pod_container_status_restarts_total": (
        "counter",
        frozenset({"namespace", "pod", "container", "uid"}),
    ),
    "kube_pod_status_ready": ("gauge", frozenset({"namespace", "pod", "uid", "condition"})),
    "kube_pod_labels": (
        "gauge",
        frozenset(
            {
                "namespace",
                "pod",
                "uid",
                "label_app_kubernetes_io_part_of",
                "label_app_kubernetes_io_component",
            }
        ),
    ),
    "kube_job_status_failed": ("gauge", frozenset({"namespace", "job_name", "reason"})),
    "kube_job_labels": (
        "gauge",
        frozenset({"namespace", "job_name", "label_app_kubernetes_io_part_of"}),
    ),
}
OUTCOMES = {"ok", "duplicate", "retried", "dead_lettered"}
ALL_LABELS = frozenset().union(*(labels for _, labels in (METRICS | EXTERNAL).values())) | {"le"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}


def _series_labels() -> dict[str, frozenset[str]]:
    """Every series name a query may select, with the labels it carries."""
    series: dict[str, frozenset[str]] = {}
    for name, (kind, labels) in (METRICS | EXTERNAL).items():
        if kind == "histogram":
            series[f"{name}_bucket"] = labels | {"le"}
            series[f"{name}_sum"] = labels
            series[f"{name}_count"] = labels
        else:
            series[name] = labels
    return series


SERIES = _series_labels()


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _recorded() -> set[str]:
    return {rule["record"] for rule in _rules() if "record" in rule}


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in _panels() for target in panel["targets"]]


def _rule_exprs() -> list[str]:
    return [rule["expr"] for rule in _rules()]


def _without_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def metric_names(expr: str) -> set[str]:
    """Series names selected by a PromQL expression (identifiers not called as functions)."""
    bare = _without_strings(expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges and subqueries
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[a-zA-Z_:][\w:]*", bare):
        followed_by = bare[match.end() :].lstrip()
        if followed_by.startswith("(") or match.group().lower() in KEYWORDS:
            continue
        names.add(match.group())
    return names


def selector_labels(expr: str) -> list[tuple[str, set[str]]]:
    """(series name, label names in its matchers) for every `name{...}` selector."""
    return [
        (name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", _without_strings(matchers))))
        for name, matchers in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr)
    ]


def grouping_labels(expr: str) -> set[str]:
    clauses = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", expr)
    return {label.strip() for clause in clauses for label in clause.split(",") if label.strip()}


def _promtool() -> str:
    local = REPO / ".run" / "prometheus" / "usr" / "bin" / "promtool"
    found = str(local) if local.exists() else shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool not found at .run/prometheus/usr/bin/promtool or on PATH: run "
            "deploy/local/install_promtool.sh (make test does this first)"
        )
    return found


def _promtool_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], capture_output=True, text=True, timeout=120)


ALL_EXPRS = pytest.mark.parametrize(
    "expr", _rule_exprs() + _dashboard_exprs(), ids=lambda expr: expr.split("(")[-1][:40]
)


class TestMetricNames:
    @pytest.mark.parametrize("name", sorted(METRICS))
    def test_each_listed_metric_is_exported_by_the_code_with_those_labels(self, name: str) -> None:
        import agencyos.common.metrics  # noqa: F401  (registers the metrics)

        collectors = {
            collector._name: collector  # type: ignore[attr-defined]
            for collector in REGISTRY._collector_to_names  # type: ignore[attr-defined]
            if hasattr(collector, "_labelnames")
        }
        kind, labels = METRICS[name]
        exported = collectors.get(name.removesuffix("_total"))
        assert exported is not None, f"{name} is not exported by agencyos.common.metrics"
        assert exported._type == kind, name
        assert frozenset(exported._labelnames) == labels, name

    def test_the_parser_finds_names_and_skips_functions(self) -> None:
        expr = 'sum by (service) (rate(a_total{x="y(z)"}[5m])) / on (service) b:c unless d'
        assert metric_names(expr) == {"a_total", "b:c", "d"}

    @ALL_EXPRS
    def test_queries_select_only_exported_or_recorded_series(self, expr: str) -> None:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        unknown = names - set(SERIES) - _recorded()
        assert not unknown, f"{sorted(unknown)} is not an AgencyOS metric (in {expr!r})"

    @ALL_EXPRS
    def test_label_matchers_use_the_metrics_own_labels(self, expr: str) -> None:
        for name, labels in selector_labels(expr):
            allowed = SERIES.get(name, ALL_LABELS)
            assert labels <= allowed, f"{name} has no label {sorted(labels - allowed)}"

    @ALL_EXPRS
    def test_grouping_uses_known_labels(self, expr: str) -> None:
        assert grouping_labels(expr) <= ALL_LABELS, expr

    @ALL_EXPRS
    def test_outcomes_are_the_four_the_consumer_reports(self, expr: str) -> None:
        for value in re.findall(r'outcome\s*=~?\s*"([^"]*)"', expr):
            assert set(value.split("|")) <= OUTCOMES, value


class TestRules:
    def test_promtool_accepts_the_rules_file(self) -> None:
        result = _promtool_run("check", "rules", str(RULES))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_rule_unit_tests_pass(self) -> None:
        result = _promtool_run("test", "rules", str(RULE_TESTS))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_the_platform_alerts_exist_with_severity_and_summary(self) -> None:
        alerts = {rule["alert"]: rule for rule in _rules() if "alert" in rule}
        assert set(alerts) >= {
            "AgencyOSHighHttpErrorRatio",
            "AgencyOSHighGrpcErrorRatio",
            "AgencyOSHttpLatencyHigh",
            "AgencyOSGrpcLatencyHigh",
            "AgencyOSKafkaConsumerLagGrowing",
            "AgencyOSOutboxNotDraining",
            "AgencyOSKafkaUnreachable",
            "AgencyOSKafkaConsumerStuck",
            "AgencyOSEventsDeadLettered",
        }
        for name, rule in alerts.items():
            assert rule["labels"]["severity"] in {"warning", "critical"}, name
            assert rule["annotations"]["summary"], name
        assert 'outcome="dead_lettered"' in alerts["AgencyOSEventsDeadLettered"]["expr"]


RUNBOOKS = REPO / "docs" / "runbooks"
RUNBOOK_BASE = "https://github.com/agencyos/agencyos/blob/main/docs/runbooks/"
ALERTS = sorted(rule["alert"] for rule in _rules() if "alert" in rule)


class TestAlertCoverage:
    @pytest.mark.parametrize("alert", ALERTS)
    def test_every_alert_links_a_runbook_in_the_repository(self, alert: str) -> None:
        rule = next(rule for rule in _rules() if rule.get("alert") == alert)
        url = rule["annotations"].get("runbook_url", "")
        assert url == f"{RUNBOOK_BASE}{alert}.md", url
        page = (RUNBOOKS / f"{alert}.md").read_text()
        assert page.startswith(f"# {alert}\n")
        for section in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
            assert section in page, (alert, section)

    @pytest.mark.parametrize("alert", ALERTS)
    def test_every_alert_has_a_promtool_unit_test_that_expects_it_to_fire(self, alert: str) -> None:
        tests = yaml.safe_load(RULE_TESTS.read_text())["tests"]
        firing = [
            case
            for test in tests
            for case in test.get("alert_rule_test", [])
            if case["alertname"] == alert and case.get("exp_alerts")
        ]
        assert firing, f"{alert} has no promtool test in which it fires"

    def test_the_runbook_index_lists_every_alert_and_nothing_else(self) -> None:
        pages = {path.stem for path in RUNBOOKS.glob("*.md")} - {"README"}
        assert pages == set(ALERTS)
        index = (RUNBOOKS / "README.md").read_text()
        for alert in ALERTS:
            assert f"({alert}.md)" in index, alert


class TestDashboard:
    def test_promtool_parses_every_panel_query(self, tmp_path: Path) -> None:
        rules = []
        for index, expr in enumerate(_dashboard_exprs()):
            concrete = re.sub(r"\$__\w+", "5m", expr)
            concrete = re.sub(r"\$\{?\w+\}?", ".*", concrete)
            rules.append({"record": f"dashboard:query_{index}", "expr": concrete})
        scratch = tmp_path / "dashboard.rules.yml"
        scratch.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
        result = _promtool_run("check", "rules", str(scratch))
        assert result.returncode == 0, result.stdout + result.stderr

    def test_has_a_service_variable_that_every_query_filters_on(self) -> None:
        variables = {var["name"]: var for var in _dashboard()["templating"]["list"]}
        service = variables["service"]
        assert service["type"] == "query"
        assert service["multi"]
        assert service["includeAll"]
        query = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", service["definition"])
        assert query is not None
        metric, label = query.groups()
        assert label == "service"
        assert metric in SERIES
        for panel in _panels():
            for target in panel["targets"]:
                assert 'service=~"$service"' in target["expr"], panel["title"]

    def test_shows_the_golden_signals_of_every_layer(self) -> None:
        titles = {panel["title"] for panel in _panels()}
        assert titles >= {
            "HTTP request rate",
            "HTTP error ratio (5xx)",
            "HTTP p95 latency",
            "gRPC request rate",
            "gRPC error ratio",
            "gRPC p95 latency",
            "Consumer lag",
            "Event handling p95",
            "Events handled by outcome",
            "Outbox backlog",
            "Outbox publish rate",
        }

    def test_is_importable_by_grafana(self) -> None:
        dashboard = _dashboard()
        assert dashboard["uid"]
        assert dashboard["title"]
        assert dashboard["schemaVersion"] >= 36
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in _panels():
            assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert [t["refId"] for t in panel["targets"]], panel["title"]
