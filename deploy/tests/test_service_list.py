"""Files that cannot import agencyos.common.services (the one list of services) name exactly
the same services: deploy/SERVICES.md, docker-compose.dev.yml and its Postgres init SQL, the
Kubernetes manifests, and the Helm values and their schema. Adding a service means adding it
there; these tests say which file still misses it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from agencyos.common.services import (
    EXTRA_TOPICS,
    GATEWAY,
    GATEWAY_METRICS_PORT,
    GATEWAY_PORT,
    SERVICE_PORTS,
    SERVICES,
)

REPO = Path(__file__).resolve().parents[2]
# The compose file's backing services: everything else in it is an AgencyOS process.
COMPOSE_INFRA = {
    "postgres",
    "redis",
    "stripe-mock",
    "mailpit",
    "kafka",
    "kafka-topics",
    "otel-collector",
}


def test_services_md_lists_each_service_with_its_ports_in_order() -> None:
    text = (REPO / "deploy/SERVICES.md").read_text()
    rows = re.findall(r"^\| (\w+) \| (\d+) \| (\d+|—) \| (\S+) \|$", text, re.M)

    assert [name for name, *_ in rows] == [GATEWAY, *SERVICES]
    assert {name: (int(http), int(grpc)) for name, http, grpc, _ in rows[1:]} == SERVICE_PORTS
    assert rows[0][1] == str(GATEWAY_PORT)
    assert f"metrics port, {GATEWAY_METRICS_PORT}" in text


def test_compose_runs_and_migrates_each_service_and_nothing_else() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.dev.yml").read_text())["services"]
    processes = set(compose) - COMPOSE_INFRA

    assert processes == {*SERVICES, GATEWAY, *(f"migrate-{name}" for name in SERVICES)}


def test_compose_creates_the_topics_of_each_service() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.dev.yml").read_text())["services"]
    script = "\n".join(compose["kafka-topics"]["command"])

    assert re.findall(r"^\s*for svc in ([\w ]+); do$", script, re.M) == [" ".join(SERVICES)]
    assert re.findall(r"^\s*for topic in ([\w. -]+); do$", script, re.M) == [" ".join(EXTRA_TOPICS)]


def test_the_compose_postgres_init_creates_one_database_per_service() -> None:
    sql = (REPO / "deploy/docker/postgres-init.sql").read_text()

    assert re.findall(r"^CREATE DATABASE agencyos_(\w+) ", sql, re.M) == list(SERVICES)
    for grant in re.findall(r"ON DATABASE ([\w,\s]+?) (?:FROM|TO) ", sql):
        assert [name.strip() for name in grant.split(",")] == [f"agencyos_{s}" for s in SERVICES]


def test_kubernetes_has_a_database_and_both_topics_per_service() -> None:
    postgres = (REPO / "deploy/k8s/postgres.yaml").read_text()
    kafka = (REPO / "deploy/k8s/kafka.yaml").read_text()

    databases = re.findall(r"^\s+(?:database|name): agencyos_(\w+)$", postgres, re.M)
    assert sorted(databases) == sorted(SERVICES)
    assert set(re.findall(r"^\s+topicName: (\S+)$", kafka, re.M)) == {
        f"{name}.{suffix}" for name in SERVICES for suffix in ("events", "events.dlq")
    } | set(EXTRA_TOPICS)


def test_the_chart_has_one_values_block_per_service() -> None:
    values = yaml.safe_load((REPO / "charts/agencyos/values.yaml").read_text())

    assert list(values["services"]) == list(SERVICES)


def test_the_chart_schema_accepts_exactly_the_services() -> None:
    schema = json.loads((REPO / "charts/agencyos/values.schema.json").read_text())
    services = schema["properties"]["services"]

    assert list(services["properties"]) == list(SERVICES)
    assert services["additionalProperties"] is False
