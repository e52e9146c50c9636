"""What the chart tests share: rendering the chart with helm, reading the rendered objects and
the merged values, and the ports of deploy/SERVICES.md (the source of truth)."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agencyos"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "1.33.0"
RELEASE = "agencyos"

Manifest = dict[str, Any]


def service_ports() -> dict[str, tuple[int, int | None]]:
    """name -> (http, grpc) from the table in deploy/SERVICES.md, the source of truth."""
    rows = re.findall(
        r"^\| (\w+) \| (\d+) \| (\d+|—) \|", (REPO / "deploy/SERVICES.md").read_text(), re.M
    )
    return {name: (int(http), None if grpc == "—" else int(grpc)) for name, http, grpc in rows}


PORTS = service_ports()
SERVICES = sorted(name for name in PORTS if name != "gateway")
# The gateway's Prometheus port (its public port never serves /metrics), from SERVICES.md.
GATEWAY_METRICS_PORT = int(
    re.findall(
        r"^\| `AGENCYOS_GATEWAY_METRICS_PORT` \| (\d+) \|",
        (REPO / "deploy/SERVICES.md").read_text(),
        re.M,
    )[0]
)


def helm() -> str:
    local = REPO / ".run" / "bin" / "helm"
    found = shutil.which("helm") or (str(local) if local.exists() else None)
    if found is None:
        pytest.fail(
            "helm not found on PATH or at .run/bin/helm: run deploy/local/install_helm.sh "
            "(make test does this first)"
        )
    return found


def kubernetes_validate() -> str:
    beside_python = Path(sys.executable).parent / "kubernetes-validate"
    found = str(beside_python) if beside_python.exists() else shutil.which("kubernetes-validate")
    if found is None:
        pytest.fail("kubernetes-validate not found: `uv sync` installs it (dev dependency)")
    return found


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=120)


@functools.cache
def template(values: Path) -> str:
    result = run(
        helm(), "template", RELEASE, str(CHART), "-f", str(values), "--kube-version", KUBE_VERSION
    )
    assert result.returncode == 0, f"helm template -f {values.name} failed:\n{result.stderr}"
    return result.stdout


def objects(values: Path) -> list[Manifest]:
    return [doc for doc in yaml.safe_load_all(template(values)) if doc]


def of_kind(values: Path, kind: str) -> list[Manifest]:
    return [obj for obj in objects(values) if obj["kind"] == kind]


def chart_values(values: Path) -> dict[str, Any]:
    """Chart defaults with the CI file laid over them (enough for the keys the tests read)."""
    merged = yaml.safe_load((CHART / "values.yaml").read_text())

    def merge(base: dict[str, Any], over: dict[str, Any]) -> None:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    merge(merged, yaml.safe_load(values.read_text()) or {})
    return merged


def enabled_services(values: Path) -> set[str]:
    config = chart_values(values)
    names = {name for name, block in config["services"].items() if block.get("enabled", True)}
    return names | ({"gateway"} if config["gateway"].get("enabled", True) else set())


def servers_of(values: Path) -> dict[str, tuple[str, str]]:
    """Server modes deployed apart and rendered: name -> (service, mode)."""
    config = chart_values(values)
    services = enabled_services(values)
    return {
        name: (block["service"], block["mode"])
        for name, block in (config.get("servers") or {}).items()
        if block.get("enabled", True) and block["service"] in services
    }


def enabled_deployables(values: Path) -> set[str]:
    """Every deployable rendered: services, the gateway and servers deployed apart."""
    return enabled_services(values) | set(servers_of(values))


def service_of(values: Path, component: str) -> str:
    """The AgencyOS service whose image, settings and ports a deployable uses."""
    return servers_of(values).get(component, (component, ""))[0]


def component_of(obj: Manifest) -> str:
    return obj["metadata"]["labels"]["app.kubernetes.io/component"]


def container_of(obj: Manifest) -> Manifest:
    containers = obj["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, obj["metadata"]["name"]
    return containers[0]


def env_of(container: Manifest) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
