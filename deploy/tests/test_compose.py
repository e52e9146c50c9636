"""docker-compose.dev.yml, its Postgres init SQL and the Dockerfile follow deploy/SERVICES.md.

No Docker engine is available here, so these are static checks: the compose file parses (YAML
anchors and merge keys resolved by PyYAML) and wires every service, port and variable the way
SERVICES.md says.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.dev.yml"
INIT_SQL = REPO / "deploy" / "docker" / "postgres-init.sql"
DOCKERFILE = REPO / "deploy" / "docker" / "Dockerfile"


def _service_ports() -> dict[str, tuple[int, int | None]]:
    rows = re.findall(
        r"^\| (\w+) \| (\d+) \| (\d+|—) \|", (REPO / "deploy/SERVICES.md").read_text(), re.M
    )
    return {name: (int(http), None if grpc == "—" else int(grpc)) for name, http, grpc in rows}


PORTS = _service_ports()
SERVICES = [name for name in PORTS if name != "gateway"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_services_md_lists_seven_services_and_the_gateway() -> None:
    assert len(SERVICES) == 7
    assert PORTS["gateway"] == (8080, None)


class TestApplicationContainers:
    @pytest.mark.parametrize("name", [*SERVICES, "gateway"])
    def test_built_from_the_shared_dockerfile_for_its_package(
        self, compose: dict[str, Any], name: str
    ) -> None:
        service = compose[name]
        assert service["build"]["context"] == "."
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile"
        assert service["build"]["args"] == {"SERVICE": name}
        expected = ["agencyos.gateway"] if name == "gateway" else [f"agencyos.{name}", "all"]
        assert service["command"] == expected

    @pytest.mark.parametrize("name", [*SERVICES, "gateway"])
    def test_publishes_its_ports_and_listens_on_all_interfaces(
        self, compose: dict[str, Any], name: str
    ) -> None:
        http, grpc = PORTS[name]
        service = compose[name]
        expected = [f"{http}:{http}"] + ([] if grpc is None else [f"{grpc}:{grpc}"])
        assert service["ports"] == expected
        assert service["environment"][f"AGENCYOS_{name.upper()}_HTTP_HOST"] == "0.0.0.0"
        assert f"http://127.0.0.1:{http}/readyz" in " ".join(service["healthcheck"]["test"])

    @pytest.mark.parametrize("name", [*SERVICES, "gateway"])
    def test_reaches_backends_and_peers_by_container_name(
        self, compose: dict[str, Any], name: str
    ) -> None:
        env = compose[name]["environment"]
        assert env["AGENCYOS_POSTGRES_HOST"] == "postgres"
        assert env["AGENCYOS_POSTGRES_PORT"] == "5432"
        assert env["AGENCYOS_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"
        assert env["AGENCYOS_REDIS_URL"].startswith("redis://redis:6379/")
        assert env["AGENCYOS_JWKS_URL"] == (
            f"http://identity:{PORTS['identity'][0]}/.well-known/jwks.json"
        )
        for peer in SERVICES:
            http, grpc = PORTS[peer]
            assert env[f"AGENCYOS_{peer.upper()}_GRPC_TARGET"] == f"{peer}:{grpc}"
            assert env[f"AGENCYOS_GATEWAY_{peer.upper()}_URL"] == f"http://{peer}:{http}"

    @pytest.mark.parametrize("name", SERVICES)
    def test_starts_after_its_migration_and_the_topics(
        self, compose: dict[str, Any], name: str
    ) -> None:
        migrate = compose[f"migrate-{name}"]
        assert migrate["command"] == [f"agencyos.{name}", "migrate"]
        assert migrate["image"] == compose[name]["image"]
        assert migrate["build"] == compose[name]["build"]
        assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert migrate["environment"]["AGENCYOS_POSTGRES_HOST"] == "postgres"
        depends = compose[name]["depends_on"]
        assert depends[f"migrate-{name}"]["condition"] == "service_completed_successfully"
        assert depends["kafka-topics"]["condition"] == "service_completed_successfully"

    def test_gateway_has_no_migration_and_waits_for_every_service(
        self, compose: dict[str, Any]
    ) -> None:
        assert "migrate-gateway" not in compose
        depends = compose["gateway"]["depends_on"]
        assert {name for name in depends if depends[name]["condition"] == "service_healthy"} >= {
            *SERVICES,
            "redis",
        }


class TestBackingServices:
    def test_postgres_15_on_host_port_55432_with_the_init_sql(
        self, compose: dict[str, Any]
    ) -> None:
        postgres = compose["postgres"]
        assert postgres["image"] == "postgres:15"
        assert postgres["ports"] == ["55432:5432"]
        mount = next(v for v in postgres["volumes"] if "docker-entrypoint-initdb.d" in v)
        assert mount.split(":")[0] == "./deploy/docker/postgres-init.sql"

    def test_redis_7(self, compose: dict[str, Any]) -> None:
        assert compose["redis"]["image"] == "redis:7"
        assert compose["redis"]["ports"] == ["6379:6379"]

    def test_kafka_is_single_node_kraft_without_topic_auto_creation(
        self, compose: dict[str, Any]
    ) -> None:
        kafka = compose["kafka"]
        env = kafka["environment"]
        assert kafka["image"] == "apache/kafka:3.9.1"
        assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert kafka["ports"] == ["9092:9092"]

    def test_topics_init_creates_events_and_dlq_for_every_service(
        self, compose: dict[str, Any]
    ) -> None:
        script = compose["kafka-topics"]["command"][0]
        loop = re.search(r"for svc in ([\w ]+); do", script)
        assert loop is not None
        assert loop.group(1).split() == SERVICES
        assert '"$$svc.events" "$$svc.events.dlq"' in script
        assert "--if-not-exists" in script


class TestPostgresInitSql:
    sql = re.sub(r"--[^\n]*", "", INIT_SQL.read_text())  # without comments

    def test_creates_the_two_roles(self) -> None:
        assert re.search(
            r"CREATE ROLE agencyos_owner LOGIN CREATEDB PASSWORD 'agencyos_owner'", self.sql
        )
        assert re.search(
            r"CREATE ROLE agencyos_app LOGIN NOBYPASSRLS PASSWORD 'agencyos_app'", self.sql
        )

    def test_creates_one_database_per_service_owned_by_the_owner(self) -> None:
        created = re.findall(r"CREATE DATABASE (\w+) OWNER agencyos_owner;", self.sql)
        assert created == [f"agencyos_{name}" for name in SERVICES]

    def test_app_role_gets_connect_usage_and_default_dml_grants(self) -> None:
        sql = " ".join(self.sql.split())
        connect = re.search(r"GRANT CONNECT ON DATABASE ([\w, ]+) TO agencyos_app;", sql)
        assert connect is not None
        assert [db.strip() for db in connect.group(1).split(",")] == [
            f"agencyos_{name}" for name in SERVICES
        ]
        # Grants are made in template1 before the databases are created from it.
        template = sql.index("\\connect template1")
        assert template < sql.index("CREATE DATABASE")
        for grant in [
            "ALTER SCHEMA public OWNER TO agencyos_owner;",
            "GRANT USAGE ON SCHEMA public TO agencyos_app;",
            "ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public GRANT SELECT, "
            "INSERT, UPDATE, DELETE ON TABLES TO agencyos_app;",
            "ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public GRANT USAGE, "
            "SELECT ON SEQUENCES TO agencyos_app;",
        ]:
            assert template < sql.index(grant) < sql.index("CREATE DATABASE"), grant


class TestDockerfile:
    text = DOCKERFILE.read_text()

    def test_builds_one_package_with_pinned_uv_on_python_311_slim(self) -> None:
        assert "ARG PYTHON_IMAGE=python:3.11-slim" in self.text
        assert "uv==0.13.9" in self.text
        assert 'uv sync --frozen --no-dev --package "agencyos-${SERVICE}"' in self.text
        assert "grpc_tools.protoc" in self.text
        assert "grpcio-tools==1.85.1" in self.text

    def test_runs_as_a_numeric_non_root_user_with_python_m_entrypoint(self) -> None:
        users = re.findall(r"^USER (\S+)", self.text, re.M)
        assert users
        assert users[-1].split(":")[0].isdigit()
        assert users[-1] != "0"
        assert self.text.rstrip().splitlines()[-1] == 'ENTRYPOINT ["python", "-m"]'

    def test_build_context_leaves_out_local_state(self) -> None:
        ignored = (REPO / ".dockerignore").read_text().split()
        assert {".git", ".run", ".venv", "bench/results", "**/__pycache__"} <= set(ignored)
