"""The operator manifests in deploy/k8s are well-formed and line up with the chart's defaults.

They are custom resources (Strimzi, CloudNativePG), for which kubernetes-validate has no schema,
so their content is checked here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agencyos.common.services import EXTRA_TOPICS

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
CHART_VALUES = yaml.safe_load((REPO / "charts" / "agencyos" / "values.yaml").read_text())
SERVICES = [
    name
    for name in re.findall(r"^\| (\w+) \| \d+ \|", (REPO / "deploy/SERVICES.md").read_text(), re.M)
    if name != "gateway"
]


def _docs(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [doc for doc in docs if doc["kind"] == kind]
    return found


@pytest.mark.parametrize(
    "name", ["kafka.yaml", "postgres.yaml", "redis.yaml", "otel-collector.yaml"]
)
def test_kubernetes_validate_only_lacks_schemas_for_the_custom_resources(name: str) -> None:
    beside_python = Path(sys.executable).parent / "kubernetes-validate"
    tool = str(beside_python) if beside_python.exists() else shutil.which("kubernetes-validate")
    if tool is None:
        pytest.fail("kubernetes-validate not found: `uv sync` installs it (dev dependency)")
    result = subprocess.run(
        [tool, "--strict", "-k", "1.33.0", str(K8S / name)], capture_output=True, text=True
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "ERROR" not in report, report
    assert all("Couldn't find schema" in line for line in report.splitlines() if "WARN" in line)


class TestKafka:
    docs = _docs("kafka.yaml")

    def test_cluster_is_kraft_with_combined_nodes(self) -> None:
        kafka = _one(self.docs, "Kafka")
        pool = _one(self.docs, "KafkaNodePool")
        assert set(pool["spec"]["roles"]) == {"controller", "broker"}
        assert pool["spec"]["replicas"] >= 3
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
        assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
        assert "zookeeper" not in kafka["spec"]
        assert kafka["spec"]["kafka"]["config"]["auto.create.topics.enable"] is False

    def test_bootstrap_and_labels_match_the_chart(self) -> None:
        kafka = _one(self.docs, "Kafka")
        name, namespace = kafka["metadata"]["name"], kafka["metadata"]["namespace"]
        plain = next(lst for lst in kafka["spec"]["kafka"]["listeners"] if not lst["tls"])
        bootstrap = f"{name}-kafka-bootstrap.{namespace}.svc:{plain['port']}"
        assert CHART_VALUES["global"]["kafka"]["bootstrap"] == bootstrap
        (peer,) = CHART_VALUES["global"]["networkPolicy"]["kafka"]["to"]
        assert peer["podSelector"]["matchLabels"] == {"strimzi.io/cluster": name}
        assert CHART_VALUES["global"]["networkPolicy"]["kafka"]["ports"] == [plain["port"]]

    def test_declares_events_and_dlq_topics_for_every_service(self) -> None:
        cluster = _one(self.docs, "Kafka")["metadata"]["name"]
        topics = [doc for doc in self.docs if doc["kind"] == "KafkaTopic"]
        assert sorted(t["spec"]["topicName"] for t in topics) == sorted(
            [f"{name}.{suffix}" for name in SERVICES for suffix in ("events", "events.dlq")]
            + list(EXTRA_TOPICS)
        )
        for topic in topics:
            assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
            assert topic["spec"]["replicas"] >= 3


class TestPostgres:
    docs = _docs("postgres.yaml")

    def test_one_database_per_service_owned_by_the_owner_role(self) -> None:
        cluster = _one(self.docs, "Cluster")
        initdb = cluster["spec"]["bootstrap"]["initdb"]
        databases = {initdb["database"]: initdb["owner"]}
        for doc in self.docs:
            if doc["kind"] == "Database":
                assert doc["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
                databases[doc["spec"]["name"]] = doc["spec"]["owner"]
        assert databases == {f"agencyos_{name}": "agencyos_owner" for name in SERVICES}

    def test_roles_and_default_privileges_follow_services_md(self) -> None:
        spec = _one(self.docs, "Cluster")["spec"]
        roles = {role["name"]: role for role in spec["managed"]["roles"]}
        assert roles["agencyos_owner"]["createdb"] is True
        assert roles["agencyos_app"]["bypassrls"] is False
        assert roles["agencyos_app"]["createdb"] is False
        template_sql = " ".join(spec["bootstrap"]["initdb"]["postInitTemplateSQL"])
        assert "ALTER SCHEMA public OWNER TO agencyos_owner" in template_sql
        assert "GRANT USAGE ON SCHEMA public TO agencyos_app" in template_sql
        assert "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agencyos_app" in template_sql
        assert "GRANT USAGE, SELECT ON SEQUENCES TO agencyos_app" in template_sql

    def test_host_and_labels_match_the_chart(self) -> None:
        cluster = _one(self.docs, "Cluster")
        name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
        assert CHART_VALUES["global"]["postgres"]["host"] == f"{name}-rw.{namespace}.svc"
        (peer,) = CHART_VALUES["global"]["networkPolicy"]["postgres"]["to"]
        assert peer["podSelector"]["matchLabels"] == {"cnpg.io/cluster": name}
        assert peer["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": namespace
        }


class TestPostgresBackups:
    docs = _docs("postgres.yaml")

    def test_wal_is_archived_to_the_object_store_for_point_in_time_recovery(self) -> None:
        cluster = _one(self.docs, "Cluster")
        store = _one(self.docs, "ObjectStore")
        (plugin,) = cluster["spec"]["plugins"]
        assert plugin["name"] == "barman-cloud.cloudnative-pg.io"
        assert plugin["isWALArchiver"] is True
        assert plugin["parameters"]["barmanObjectName"] == store["metadata"]["name"]
        assert store["metadata"]["namespace"] == cluster["metadata"]["namespace"]
        assert store["spec"]["configuration"]["destinationPath"].startswith("s3://")
        assert store["spec"]["retentionPolicy"].endswith("d")

    def test_a_base_backup_is_taken_every_day(self) -> None:
        cluster = _one(self.docs, "Cluster")
        backup = _one(self.docs, "ScheduledBackup")
        assert backup["spec"]["cluster"]["name"] == cluster["metadata"]["name"]
        assert backup["spec"]["method"] == "plugin"
        assert backup["spec"]["pluginConfiguration"]["name"] == "barman-cloud.cloudnative-pg.io"
        fields = backup["spec"]["schedule"].split()
        assert len(fields) == 6  # CloudNativePG: seconds first
        hours, day, month, weekday = fields[2:]
        assert (day, month, weekday) == ("*", "*", "*")  # daily
        assert hours.isdigit()


class TestRedis:
    docs = _docs("redis.yaml")

    def test_the_service_is_what_the_chart_connects_to(self) -> None:
        service = _one(self.docs, "Service")
        (port,) = service["spec"]["ports"]
        assert CHART_VALUES["global"]["redisUrl"] == (
            f"redis://{service['metadata']['name']}:{port['port']}/0"
        )

    def test_the_charts_network_policy_selects_its_pods(self) -> None:
        pods = _one(self.docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
        redis = CHART_VALUES["global"]["networkPolicy"]["redis"]
        (peer,) = redis["to"]
        wanted = peer["podSelector"]["matchLabels"]
        assert wanted.items() <= pods.items()
        (port,) = _one(self.docs, "Service")["spec"]["ports"]
        assert redis["ports"] == [port["port"]]

    def test_revocations_survive_a_restart_and_ttl_keys_go_first(self) -> None:
        statefulset = _one(self.docs, "StatefulSet")
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        args = container["args"]
        assert args[args.index("--appendonly") + 1] == "yes"
        assert args[args.index("--maxmemory-policy") + 1] == "volatile-ttl"
        assert container["volumeMounts"][0]["mountPath"] == "/data"
        assert statefulset["spec"]["volumeClaimTemplates"]
        # one primary: a revocation check reads its keys in one MGET (no Redis Cluster)
        assert statefulset["spec"]["replicas"] == 1

    def test_only_agencyos_pods_reach_it(self) -> None:
        policy = _one(self.docs, "NetworkPolicy")
        pods = _one(self.docs, "StatefulSet")["spec"]["template"]["metadata"]["labels"]
        assert policy["spec"]["podSelector"]["matchLabels"].items() <= pods.items()
        (rule,) = policy["spec"]["ingress"]
        (source,) = rule["from"]
        assert source == {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": "agencyos"}}}
