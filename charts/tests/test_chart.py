"""Chart CI for charts/agencyos (CONVENTIONS 13): lint, render, validate, inspect.

There is no Kubernetes API here (TOOLCHAIN 7), so every values file under ci/ is linted with
`helm lint --strict`, rendered with `helm template` and checked against the Kubernetes 1.33 schemas
by `kubernetes-validate --strict`; the rendered objects are then inspected for what the platform
relies on (probes, resources, non-root, image tags, migration hooks, ports from SERVICES.md).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from .chart_support import (
    CHART,
    CI_VALUES,
    GATEWAY_METRICS_PORT,
    KUBE_VERSION,
    PORTS,
    RELEASE,
    SERVICES,
    Manifest,
    chart_values,
    component_of,
    container_of,
    enabled_deployables,
    enabled_services,
    env_of,
    helm,
    kubernetes_validate,
    objects,
    of_kind,
    run,
    servers_of,
    service_of,
    template,
)

PRIVATE_NETWORKS = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]

ci_values = pytest.mark.parametrize("values", CI_VALUES, ids=lambda path: path.stem)


def test_ci_has_default_production_and_minimal_values() -> None:
    assert {path.name for path in CI_VALUES} >= {
        "default-values.yaml",
        "production-values.yaml",
        "minimal-values.yaml",
    }


class TestChartCi:
    @ci_values
    def test_lints_strictly(self, values: Path) -> None:
        result = run(
            helm(),
            "lint",
            "--strict",
            str(CHART),
            "-f",
            str(values),
            "--kube-version",
            KUBE_VERSION,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    @ci_values
    def test_rendered_objects_match_the_kubernetes_schemas(self, values: Path) -> None:
        result = run(
            kubernetes_validate(), "--strict", "-k", KUBE_VERSION, "-", stdin=template(values)
        )
        report = result.stdout + result.stderr
        assert result.returncode == 0, report
        # Unknown kinds only warn: the only ones this chart renders are the Prometheus
        # Operator's (checked in test_chart_monitoring.py); anything else must match a schema.
        warnings = [
            line
            for line in report.splitlines()
            if "WARN" in line and "api version monitoring.coreos.com/v1 " not in line
        ]
        assert not warnings, report
        assert "ERROR" not in report, report


class TestDeployments:
    @ci_values
    def test_one_deployment_per_enabled_service(self, values: Path) -> None:
        deployments = of_kind(values, "Deployment")
        assert {component_of(obj) for obj in deployments} == enabled_deployables(values)
        assert len(deployments) == len(enabled_deployables(values))

    @ci_values
    def test_probes_hit_healthz_and_readyz(self, values: Path) -> None:
        for obj in of_kind(values, "Deployment"):
            container = container_of(obj)
            for probe, path in [
                ("livenessProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
                ("startupProbe", "/healthz"),
            ]:
                assert container[probe]["httpGet"] == {"path": path, "port": "http"}, (
                    f"{obj['metadata']['name']} {probe}"
                )

    @ci_values
    def test_containers_request_and_limit_cpu_and_memory(self, values: Path) -> None:
        for obj in of_kind(values, "Deployment") + of_kind(values, "Job"):
            resources = container_of(obj)["resources"]
            for bound in ("requests", "limits"):
                assert set(resources.get(bound, {})) >= {"cpu", "memory"}, (
                    f"{obj['metadata']['name']} {bound}"
                )

    @ci_values
    def test_pods_run_as_non_root_on_a_read_only_root(self, values: Path) -> None:
        for obj in of_kind(values, "Deployment") + of_kind(values, "Job"):
            pod = obj["spec"]["template"]["spec"]
            container = container_of(obj)
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["runAsUser"] != 0
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
            assert any(v["name"] == tmp["name"] and "emptyDir" in v for v in pod["volumes"])

    @ci_values
    def test_images_carry_the_tag_from_values(self, values: Path) -> None:
        image = chart_values(values)["global"]["image"]
        for obj in of_kind(values, "Deployment") + of_kind(values, "Job"):
            service = service_of(values, component_of(obj).removesuffix("-migrate"))
            expected = f"{image['registry']}/agencyos-{service}:{image['tag']}"
            assert container_of(obj)["image"] == expected

    @ci_values
    def test_services_run_all_modes_the_gateway_its_module_and_servers_their_mode(
        self, values: Path
    ) -> None:
        servers = servers_of(values)
        for obj in of_kind(values, "Deployment"):
            name = component_of(obj)
            if name == "gateway":
                expected = ["agencyos.gateway"]
            elif name in servers:
                service, mode = servers[name]
                expected = [f"agencyos.{service}", mode]
            else:
                expected = [f"agencyos.{name}", "all"]
            assert container_of(obj)["args"] == expected

    @ci_values
    def test_ports_and_listen_settings_follow_services_md(self, values: Path) -> None:
        servers = servers_of(values)
        for obj in of_kind(values, "Deployment"):
            name = service_of(values, component_of(obj))
            http, grpc = PORTS[name]
            if component_of(obj) in servers:
                grpc = None  # a server mode apart serves HTTP only, on its service's port
            container = container_of(obj)
            ports = {port["name"]: port["containerPort"] for port in container["ports"]}
            expected = {"http": http} if grpc is None else {"http": http, "grpc": grpc}
            scraped = http
            if name == "gateway":
                expected["metrics"] = scraped = GATEWAY_METRICS_PORT
            assert ports == expected
            env = env_of(container)
            assert env[f"AGENCYOS_{name.upper()}_HTTP_HOST"] == "0.0.0.0"
            assert env[f"AGENCYOS_{name.upper()}_HTTP_PORT"] == str(http)
            if name == "gateway":
                assert env["AGENCYOS_GATEWAY_METRICS_PORT"] == str(GATEWAY_METRICS_PORT)
            annotations = obj["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/port"] == str(scraped)
        for obj in of_kind(values, "Service"):
            http, grpc = PORTS[service_of(values, component_of(obj))]
            if component_of(obj) in servers:
                grpc = None
            ports = {port["name"]: port["port"] for port in obj["spec"]["ports"]}
            assert ports == ({"http": http} if grpc is None else {"http": http, "grpc": grpc})

    @ci_values
    def test_database_url_comes_from_a_secret_and_only_services_get_one(self, values: Path) -> None:
        for obj in of_kind(values, "Deployment"):
            name = service_of(values, component_of(obj))
            env = env_of(container_of(obj))
            key = f"AGENCYOS_{name.upper()}_DATABASE_URL"
            if name == "gateway":
                assert key not in env
            else:
                assert "secretKeyRef" in env[key]
                assert f"AGENCYOS_{name.upper()}_MIGRATION_DATABASE_URL" not in env


class TestMigrationJobs:
    @ci_values
    def test_every_database_service_has_a_pre_install_pre_upgrade_hook(self, values: Path) -> None:
        jobs = of_kind(values, "Job")
        # One per service: a server deployed apart uses its service's database, migrated once.
        assert {component_of(job) for job in jobs} == {
            f"{name}-migrate" for name in enabled_services(values) - {"gateway"}
        }
        for job in jobs:
            annotations = job["metadata"]["annotations"]
            assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
            assert "before-hook-creation" in annotations["helm.sh/hook-delete-policy"]
            service = component_of(job).removesuffix("-migrate")
            container = container_of(job)
            assert container["args"] == [f"agencyos.{service}", "migrate"]
            assert (
                "secretKeyRef"
                in env_of(container)[f"AGENCYOS_{service.upper()}_MIGRATION_DATABASE_URL"]
            )
            assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"

    @ci_values
    def test_the_gateway_has_no_migration_job(self, values: Path) -> None:
        assert not [job for job in of_kind(values, "Job") if "gateway" in component_of(job)]


class TestValuesFiles:
    def test_disabled_services_render_nothing(self) -> None:
        values = CHART / "ci" / "minimal-values.yaml"
        disabled = set(SERVICES) - enabled_deployables(values)
        assert disabled == {"work", "time", "billing", "notification", "portal"}
        rendered = template(values)
        for name in disabled:
            assert f"agencyos-{name}" not in rendered, name
            assert f"AGENCYOS_{name.upper()}_" not in rendered, name
        kinds = {obj["kind"] for obj in objects(values)}
        assert "NetworkPolicy" not in kinds
        assert "PodDisruptionBudget" not in kinds

    def test_production_autoscales_from_three_replicas_behind_an_ingress(self) -> None:
        values = CHART / "ci" / "production-values.yaml"
        scalers = {
            obj["spec"]["scaleTargetRef"]["name"]: obj
            for obj in of_kind(values, "HorizontalPodAutoscaler")
        }
        deployments = of_kind(values, "Deployment")
        assert set(scalers) == {obj["metadata"]["name"] for obj in deployments}
        assert all(obj["spec"]["minReplicas"] >= 3 for obj in scalers.values())
        # The HPA owns the replica count, so the Deployment must not reset it on upgrade.
        assert all("replicas" not in obj["spec"] for obj in deployments)
        ingresses = of_kind(values, "Ingress")
        assert {obj["metadata"]["name"] for obj in ingresses} == {
            f"{RELEASE}-gateway",
            f"{RELEASE}-gateway-stream",
        }
        for ingress in ingresses:
            backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
            assert backend == {"name": f"{RELEASE}-gateway", "port": {"name": "http"}}
            assert ingress["spec"]["tls"]

    def test_default_deployments_keep_the_replica_count_from_values(self) -> None:
        values = CHART / "ci" / "default-values.yaml"
        assert not of_kind(values, "HorizontalPodAutoscaler")
        assert not of_kind(values, "Ingress")
        expected = chart_values(values)["serviceDefaults"]["replicas"]
        assert all(obj["spec"]["replicas"] == expected for obj in of_kind(values, "Deployment"))

    def test_config_map_points_at_every_enabled_service(self) -> None:
        values = CHART / "ci" / "default-values.yaml"
        (config,) = of_kind(values, "ConfigMap")
        data = config["data"]
        for name in SERVICES:
            http, grpc = PORTS[name]
            assert data[f"AGENCYOS_{name.upper()}_GRPC_TARGET"] == f"{RELEASE}-{name}:{grpc}"
            assert data[f"AGENCYOS_GATEWAY_{name.upper()}_URL"] == f"http://{RELEASE}-{name}:{http}"
        assert data["AGENCYOS_JWKS_URL"].startswith(f"http://{RELEASE}-identity:")
        assert {"AGENCYOS_POSTGRES_HOST", "AGENCYOS_KAFKA_BOOTSTRAP"} <= set(data)

    def test_pods_start_as_production_unless_told_otherwise(self) -> None:
        (config,) = of_kind(CHART / "ci" / "default-values.yaml", "ConfigMap")
        assert config["data"]["AGENCYOS_ENVIRONMENT"] == "production"
        # production needs the public address (test_chart_production.py: refused without it)
        assert config["data"]["AGENCYOS_PUBLIC_BASE_URL"] == "https://api.agencyos.example"

    def test_the_public_base_url_for_email_links_comes_from_values(self) -> None:
        (config,) = of_kind(CHART / "ci" / "production-values.yaml", "ConfigMap")
        assert config["data"]["AGENCYOS_PUBLIC_BASE_URL"] == "https://api.example.com"


class TestNetworkPolicies:
    @ci_values
    def test_ingress_only_from_agencyos_pods_monitoring_and_configured_peers(
        self, values: Path
    ) -> None:
        for policy in of_kind(values, "NetworkPolicy"):
            assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            rules = policy["spec"]["ingress"]
            assert rules[0]["from"] == [
                {
                    "podSelector": {
                        "matchLabels": {
                            "app.kubernetes.io/part-of": "agencyos",
                            "app.kubernetes.io/instance": RELEASE,
                        }
                    }
                }
            ]
            assert rules[1]["from"][0]["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": "monitoring"
            }
            # Prometheus reaches the gateway's metrics port only, not its public one.
            scrape_port = "metrics" if component_of(policy) == "gateway" else "http"
            assert rules[1]["ports"] == [{"port": scrape_port, "protocol": "TCP"}]
            assert all("ipBlock" not in peer for rule in rules for peer in rule["from"])

    @ci_values
    def test_the_gateway_gets_its_cors_settings_from_values(self, values: Path) -> None:
        cors = chart_values(values)["gateway"]["cors"]
        for obj in of_kind(values, "Deployment"):
            env = env_of(container_of(obj))
            if component_of(obj) != "gateway":
                assert "AGENCYOS_GATEWAY_CORS_ORIGINS" not in env
                continue
            assert json.loads(env["AGENCYOS_GATEWAY_CORS_ORIGINS"]) == cors["origins"]
            allow_credentials = env["AGENCYOS_GATEWAY_CORS_ALLOW_CREDENTIALS"]
            assert allow_credentials == str(cors["allowCredentials"]).lower()
            assert env["AGENCYOS_GATEWAY_CORS_MAX_AGE_SECONDS"] == str(cors["maxAgeSeconds"])
            gateway = chart_values(values)["gateway"]
            trusted = gateway["trustedProxies"]
            if trusted is None:  # the default: the ingress controller's private networks
                trusted = PRIVATE_NETWORKS if gateway["ingress"]["enabled"] else []
            assert json.loads(env["AGENCYOS_GATEWAY_TRUSTED_PROXIES"]) == trusted

    @pytest.mark.parametrize(
        ("gateway", "expected"),
        [
            ("ingress: {enabled: true}", PRIVATE_NETWORKS),
            ("ingress: {enabled: false}", []),
            ("ingress: {enabled: true}\n  trustedProxies: []", []),
            ("ingress: {enabled: true}\n  trustedProxies: [203.0.113.7/32]", ["203.0.113.7/32"]),
        ],
        ids=["ingress-default", "no-ingress", "explicitly-none", "explicit"],
    )
    def test_behind_the_ingress_the_gateway_believes_the_controllers_forwarded_for(
        self, gateway: str, expected: list[str], tmp_path: Path
    ) -> None:
        values = tmp_path / "proxies.yaml"
        values.write_text(f"global: {{environment: development}}\ngateway:\n  {gateway}\n")
        (deployment,) = [
            obj for obj in of_kind(values, "Deployment") if component_of(obj) == "gateway"
        ]
        env = env_of(container_of(deployment))
        assert json.loads(env["AGENCYOS_GATEWAY_TRUSTED_PROXIES"]) == expected

    @ci_values
    def test_egress_allows_dns_and_the_backends_each_service_uses(self, values: Path) -> None:
        for policy in of_kind(values, "NetworkPolicy"):
            ports = {
                (port["port"], port.get("protocol", "TCP"))
                for rule in policy["spec"]["egress"]
                for port in rule.get("ports", [])
            }
            assert {(53, "UDP"), (53, "TCP")} <= ports
            if component_of(policy) == "gateway":
                assert (6379, "TCP") in ports
                assert (5432, "TCP") not in ports
            else:
                assert {(5432, "TCP"), (9092, "TCP")} <= ports
            if component_of(policy) == "identity":
                assert (443, "TCP") in ports  # single sign-on's OpenID providers


DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
STREAM = "notification-stream"
STREAM_HOST = f"{RELEASE}-{STREAM}"
# What the stream process does on SIGTERM (AGENCYOS_NOTIFICATION_SHUTDOWN_GRACE_SECONDS).
STREAM_SHUTDOWN_GRACE_SECONDS = 10


def _named(values: Path, kind: str, name: str) -> Manifest:
    (obj,) = [o for o in of_kind(values, kind) if o["metadata"]["name"] == name]
    return obj


# What a production render needs of object storage (global.objectStorage), unless a test says.
OBJECT_STORAGE = "  objectStorage: {bucket: agencyos-files-test, existingSecret: agencyos-s3}\n"


def _values_file(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(
        'global:\n  image:\n    tag: "1.0.0"\n  publicBaseUrl: https://api.agencyos.example\n'
        + OBJECT_STORAGE
        + content
    )
    return path


class TestStreamServer:
    """`GET /v1/stream` runs in pods of its own: notification's `stream` mode."""

    def test_is_deployed_by_default_with_its_own_service_pdb_and_network_policy(self) -> None:
        deployment = _named(DEFAULT_VALUES, "Deployment", STREAM_HOST)
        container = container_of(deployment)
        assert container["args"] == ["agencyos.notification", "stream"]
        assert container["image"] == "ghcr.io/agencyos/agencyos-notification:1.0.0"
        env = env_of(container)
        assert env["AGENCYOS_NOTIFICATION_HTTP_PORT"] == str(PORTS["notification"][0])
        assert env["AGENCYOS_NOTIFICATION_DATABASE_URL"]["secretKeyRef"]["name"] == (
            "agencyos-db-notification"
        )
        assert not any(port["name"] == "grpc" for port in container["ports"])
        service = _named(DEFAULT_VALUES, "Service", STREAM_HOST)
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == STREAM
        _named(DEFAULT_VALUES, "PodDisruptionBudget", STREAM_HOST)
        _named(DEFAULT_VALUES, "NetworkPolicy", STREAM_HOST)
        assert not [job for job in of_kind(DEFAULT_VALUES, "Job") if STREAM in component_of(job)]

    def test_the_gateway_sends_streams_to_it(self) -> None:
        (config,) = of_kind(DEFAULT_VALUES, "ConfigMap")
        http = PORTS["notification"][0]
        assert config["data"]["AGENCYOS_GATEWAY_STREAM_URL"] == f"http://{STREAM_HOST}:{http}"

    def test_outlives_its_shutdown_grace_so_streams_end_before_the_pod_is_killed(self) -> None:
        for values in CI_VALUES:
            for obj in of_kind(values, "Deployment"):
                if component_of(obj) != STREAM:
                    continue
                pod = obj["spec"]["template"]["spec"]
                pre_stop = container_of(obj)["lifecycle"]["preStop"]["sleep"]["seconds"]
                assert pod["terminationGracePeriodSeconds"] > (
                    pre_stop + STREAM_SHUTDOWN_GRACE_SECONDS
                ), values.name

    def test_autoscales_like_every_deployable_in_production(self) -> None:
        scaler = _named(PRODUCTION_VALUES, "HorizontalPodAutoscaler", STREAM_HOST)
        assert scaler["spec"]["scaleTargetRef"]["name"] == STREAM_HOST

    def test_takes_notifications_env_and_database_secret(self, tmp_path: Path) -> None:
        values = _values_file(
            tmp_path,
            "services:\n  notification:\n    env: {AGENCYOS_NOTIFICATION_FEED_X: '1'}\n"
            "    database: {existingSecret: notification-db}\n"
            "servers:\n  notification-stream:\n    replicas: 4\n",
        )
        deployment = _named(values, "Deployment", STREAM_HOST)
        assert deployment["spec"]["replicas"] == 4
        env = env_of(container_of(deployment))
        assert env["AGENCYOS_NOTIFICATION_FEED_X"] == "1"
        assert env["AGENCYOS_NOTIFICATION_DATABASE_URL"]["secretKeyRef"]["name"] == (
            "notification-db"
        )

    def test_disabled_leaves_streams_to_notification(self, tmp_path: Path) -> None:
        values = _values_file(tmp_path, "servers:\n  notification-stream: {enabled: false}\n")
        rendered = template(values)
        assert STREAM_HOST not in rendered
        (config,) = of_kind(values, "ConfigMap")
        assert "AGENCYOS_GATEWAY_STREAM_URL" not in config["data"]

    def test_is_not_rendered_without_notification(self) -> None:
        values = CHART / "ci" / "minimal-values.yaml"
        assert STREAM not in template(values)
        assert "AGENCYOS_GATEWAY_STREAM_URL" not in template(values)


class TestStreamIngress:
    """`/v1/stream` on an Ingress of its own: no proxy buffering, long timeouts; the rest of
    the API keeps the controller's defaults."""

    def test_the_stream_path_alone_is_unbuffered_with_long_timeouts(self) -> None:
        stream = _named(PRODUCTION_VALUES, "Ingress", f"{RELEASE}-gateway-stream")
        (path,) = stream["spec"]["rules"][0]["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/v1/stream", "Exact")
        annotations = stream["metadata"]["annotations"]
        prefix = "nginx.ingress.kubernetes.io/"
        assert annotations[prefix + "proxy-buffering"] == "off"
        assert annotations[prefix + "proxy-http-version"] == "1.1"
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(annotations[prefix + timeout]) >= 3600

    def test_the_rest_of_the_api_keeps_its_own_annotations_and_the_same_host(self) -> None:
        main = _named(PRODUCTION_VALUES, "Ingress", f"{RELEASE}-gateway")
        stream = _named(PRODUCTION_VALUES, "Ingress", f"{RELEASE}-gateway-stream")
        assert main["metadata"]["annotations"] == {
            "nginx.ingress.kubernetes.io/proxy-body-size": "10m"
        }
        assert main["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"
        for field in ("ingressClassName", "tls"):
            assert stream["spec"][field] == main["spec"][field]
        assert stream["spec"]["rules"][0]["host"] == main["spec"]["rules"][0]["host"]

    def test_can_be_turned_off(self, tmp_path: Path) -> None:
        values = _values_file(
            tmp_path, "gateway:\n  ingress:\n    enabled: true\n    stream: {enabled: false}\n"
        )
        assert [obj["metadata"]["name"] for obj in of_kind(values, "Ingress")] == [
            f"{RELEASE}-gateway"
        ]


BAD_VALUES = {
    "replicas-not-an-integer": "services:\n  crm:\n    replicas: three\n",
    "unknown-service": "services:\n  payments:\n    enabled: true\n",
    "misspelt-key": "services:\n  crm:\n    replica: 3\n",
    "env-value-not-a-string": "services:\n  crm:\n    env:\n      AGENCYOS_CRM_X: 5\n",
    "cors-origin-with-a-path": "gateway:\n  cors:\n    origins: [https://app.example.com/x]\n",
    "cors-origins-not-a-list": "gateway:\n  cors:\n    origins: https://app.example.com\n",
    "server-of-unknown-service": "servers:\n  x-stream: {service: payments, mode: stream}\n",
    "server-without-mode": "servers:\n  notification-stream: {mode: null}\n",
    "server-misspelt-key": "servers:\n  notification-stream:\n    replica: 3\n",
    "stream-ingress-relative-path": "gateway:\n  ingress:\n    stream: {path: v1/stream}\n",
}


@pytest.mark.parametrize("content", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_values_schema_rejects_wrong_values(content: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(content)
    result = run(
        helm(), "template", RELEASE, str(CHART), "-f", str(bad), "--kube-version", KUBE_VERSION
    )
    assert result.returncode != 0, "helm template accepted invalid values"
    assert "schema" in result.stderr, result.stderr


class TestServiceCredential:
    """Every service pod shows identity the same service credential (the gateway none), from a
    Secret: an existing one, or one the chart renders from a value."""

    @staticmethod
    def _credentials(values: Path) -> dict[str, Any]:
        return {
            component_of(obj): env_of(container_of(obj)).get("AGENCYOS_SERVICE_CREDENTIAL")
            for obj in of_kind(values, "Deployment")
        }

    def test_production_reads_it_from_the_existing_secret_in_every_service_pod(self) -> None:
        found = self._credentials(PRODUCTION_VALUES)
        assert found.pop("gateway") is None
        assert found
        for component, credential in found.items():
            assert credential == {
                "secretKeyRef": {"name": "agencyos-service-credential", "key": "service-credential"}
            }, component
        assert not of_kind(PRODUCTION_VALUES, "Secret")

    def test_a_value_is_rendered_into_a_secret_of_the_chart(self, tmp_path: Path) -> None:
        values = _values_file(
            tmp_path,
            "  secrets:\n    serviceCredential: {value: s3cret-credential, key: credential}\n",
        )
        (secret,) = of_kind(values, "Secret")
        assert secret["metadata"]["name"] == f"{RELEASE}-service-credential"
        assert base64.b64decode(secret["data"]["credential"]).decode() == "s3cret-credential"
        found = self._credentials(values)
        assert found.pop("gateway") is None
        for component, credential in found.items():
            assert credential == {
                "secretKeyRef": {"name": f"{RELEASE}-service-credential", "key": "credential"}
            }, component
        assert "s3cret-credential" not in json.dumps(of_kind(values, "Deployment"))

    def test_unset_leaves_the_development_default(self) -> None:
        assert set(self._credentials(DEFAULT_VALUES).values()) == {None}
        assert not of_kind(DEFAULT_VALUES, "Secret")
