"""The chart's database and Kafka sizing: pool size per pod, the PgBouncer mode (the
CloudNativePG Pooler of deploy/k8s/postgres.yaml) with direct connections for leadership and
migrations, the connection budget, and HPAs capped at the topics' partition count."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from .chart_support import (
    CHART,
    KUBE_VERSION,
    RELEASE,
    REPO,
    chart_values,
    component_of,
    container_of,
    env_of,
    helm,
    of_kind,
    run,
    service_of,
)

DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
K8S = REPO / "deploy" / "k8s"


def _env_entries(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def _service_deployments(values: Path) -> list[dict[str, Any]]:
    return [obj for obj in of_kind(values, "Deployment") if component_of(obj) != "gateway"]


def _k8s(name: str, kind: str) -> list[dict[str, Any]]:
    docs = yaml.safe_load_all((K8S / name).read_text())
    return [doc for doc in docs if doc and doc["kind"] == kind]


class TestPools:
    def test_every_service_pod_gets_its_pool_size(self) -> None:
        pool = chart_values(DEFAULT_VALUES)["serviceDefaults"]["database"]["poolSize"]
        for obj in _service_deployments(DEFAULT_VALUES):
            name = service_of(DEFAULT_VALUES, component_of(obj)).upper()
            env = env_of(container_of(obj))
            assert env[f"AGENCYOS_{name}_DATABASE_POOL_SIZE"] == str(pool)
            assert f"AGENCYOS_{name}_DATABASE_PGBOUNCER" not in env

    def test_without_the_pooler_the_worst_case_fits_max_connections(self) -> None:
        (cluster,) = _k8s("postgres.yaml", "Cluster")
        max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
        config = chart_values(DEFAULT_VALUES)
        assert not config["global"]["postgres"]["pgbouncer"]
        worst = 0
        for obj in _service_deployments(DEFAULT_VALUES):
            env = env_of(container_of(obj))
            pool = int(next(v for k, v in env.items() if k.endswith("_DATABASE_POOL_SIZE")))
            replicas = obj["spec"].get("replicas", 1)
            worst += replicas * 2 * pool  # pool_size plus as many overflow connections
        hpas = {
            h["spec"]["scaleTargetRef"]["name"]: h
            for h in of_kind(DEFAULT_VALUES, "HorizontalPodAutoscaler")
        }
        assert not hpas  # autoscaling is off by default; with it, use the Pooler (README)
        assert worst <= max_connections - 50, worst  # room for migrations and the operator


class TestPgBouncer:
    def test_services_keep_no_prepared_statements_and_lead_over_a_direct_connection(
        self,
    ) -> None:
        secrets = chart_values(PRODUCTION_VALUES)["global"]["secrets"]
        for obj in _service_deployments(PRODUCTION_VALUES):
            name = service_of(PRODUCTION_VALUES, component_of(obj)).upper()
            entries = _env_entries(container_of(obj))
            assert entries[f"AGENCYOS_{name}_DATABASE_PGBOUNCER"]["value"] == "true"
            leader = entries[f"AGENCYOS_{name}_LEADER_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            app = entries[f"AGENCYOS_{name}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]
            assert leader["name"] == app["name"]
            assert leader["key"] == secrets["directDatabaseUrlKey"] != app["key"]

    def test_migrations_never_go_through_the_pooler(self) -> None:
        for job in of_kind(PRODUCTION_VALUES, "Job"):
            names = set(_env_entries(container_of(job)))
            assert not any(n.endswith("_DATABASE_PGBOUNCER") for n in names), names
            assert any(n.endswith("_MIGRATION_DATABASE_URL") for n in names), names

    def test_the_pooler_runs_transaction_mode_within_max_connections(self) -> None:
        (cluster,) = _k8s("postgres.yaml", "Cluster")
        (pooler,) = _k8s("postgres.yaml", "Pooler")
        databases = 1 + len(_k8s("postgres.yaml", "Database"))  # initdb's + the resources
        assert pooler["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert pooler["spec"]["type"] == "rw"
        bouncer = pooler["spec"]["pgbouncer"]
        assert bouncer["poolMode"] == "transaction"
        server = pooler["spec"]["instances"] * int(bouncer["parameters"]["default_pool_size"])
        max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
        assert server * databases <= max_connections - 50


class TestPartitions:
    def test_the_chart_knows_the_topics_partitions(self) -> None:
        partitions = chart_values(DEFAULT_VALUES)["global"]["kafka"]["partitions"]
        topics = _k8s("kafka.yaml", "KafkaTopic")
        assert topics
        assert {topic["spec"]["partitions"] for topic in topics} == {partitions}

    @pytest.mark.parametrize("values", [DEFAULT_VALUES, PRODUCTION_VALUES], ids=lambda p: p.stem)
    def test_no_hpa_scales_a_consumer_past_the_partitions(self, values: Path) -> None:
        partitions = chart_values(values)["global"]["kafka"]["partitions"]
        for hpa in of_kind(values, "HorizontalPodAutoscaler"):
            assert hpa["spec"]["maxReplicas"] <= partitions, hpa["metadata"]["name"]

    def test_a_max_replicas_above_the_partitions_is_refused_by_name(self, tmp_path: Path) -> None:
        values = tmp_path / "too-many.yaml"
        values.write_text(
            "global: {environment: development, kafka: {partitions: 6}}\n"
            "services:\n  crm:\n    autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 8}\n"
        )
        result = run(
            helm(),
            "template",
            RELEASE,
            str(CHART),
            "-f",
            str(values),
            "--kube-version",
            KUBE_VERSION,
        )
        assert result.returncode != 0
        assert (
            "crm: autoscaling.maxReplicas (8) is above global.kafka.partitions (6)" in result.stderr
        )
