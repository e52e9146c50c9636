"""The chart's object storage for files (global.objectStorage): work's pods get the S3
settings (the keys from an existing Secret, or none for the pod's IAM role) and may reach S3
over HTTPS; no other pod gets them; a production render fails without a bucket and a way to
the keys, a development one renders without them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "agencyos"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DEFAULT_VALUES = CHART / "ci" / "default-values.yaml"
KUBE_VERSION = "1.33.0"
RELEASE = "agencyos"

Manifest = dict[str, Any]


def _helm() -> str:
    local = REPO / ".run" / "bin" / "helm"
    found = shutil.which("helm") or (str(local) if local.exists() else None)
    if found is None:
        pytest.fail("helm not found on PATH or at .run/bin/helm: run deploy/local/install_helm.sh")
    return found


def _render(values: Path) -> subprocess.CompletedProcess[str]:
    args = ("template", RELEASE, str(CHART), "-f", str(values), "--kube-version", KUBE_VERSION)
    return subprocess.run((_helm(), *args), capture_output=True, text=True, timeout=120)


def _of_kind(values: Path, kind: str) -> list[Manifest]:
    result = _render(values)
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d and d["kind"] == kind]


def _component(obj: Manifest) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def _env(obj: Manifest) -> dict[str, Any]:
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def _named(values: Path, kind: str, name: str) -> Manifest:
    (obj,) = [o for o in _of_kind(values, kind) if o["metadata"]["name"] == name]
    return obj


class TestObjectStorage:
    """work's pods get the S3 settings (the keys from a Secret, or none for the IAM role), no
    other pod does; production refuses to render without a bucket and a way to the keys."""

    @staticmethod
    def _s3_env(values: Path) -> dict[str, dict[str, Any]]:
        return {
            _component(obj): {k: v for k, v in _env(obj).items() if k.startswith("AGENCYOS_S3_")}
            for obj in _of_kind(values, "Deployment")
        }

    def test_production_gives_work_the_bucket_and_the_keys_from_the_secret(self) -> None:
        found = self._s3_env(PRODUCTION_VALUES)
        work = found.pop("work")
        assert work["AGENCYOS_S3_BUCKET"] == "agencyos-files-prod"
        assert work["AGENCYOS_S3_REGION"] == "eu-central-1"
        assert work["AGENCYOS_S3_ENDPOINT_URL"] == ""  # AWS itself
        assert work["AGENCYOS_S3_ACCESS_KEY_ID"] == {
            "secretKeyRef": {"name": "agencyos-s3", "key": "access-key-id"}
        }
        assert work["AGENCYOS_S3_SECRET_ACCESS_KEY"] == {
            "secretKeyRef": {"name": "agencyos-s3", "key": "secret-access-key"}
        }
        assert set(map(len, found.values())) == {0}

    def test_the_iam_role_leaves_both_keys_empty(self) -> None:
        work = self._s3_env(DEFAULT_VALUES)["work"]
        assert work["AGENCYOS_S3_ACCESS_KEY_ID"] == ""
        assert work["AGENCYOS_S3_SECRET_ACCESS_KEY"] == ""

    def test_work_may_reach_s3_over_https(self) -> None:
        policy = _named(PRODUCTION_VALUES, "NetworkPolicy", f"{RELEASE}-work")
        ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule.get("ports", [])}
        assert 443 in ports

    @pytest.mark.parametrize(
        ("storage", "message"),
        [
            ("  objectStorage: {existingSecret: agencyos-s3}\n", "bucket is required"),
            ("  objectStorage: {bucket: files}\n", "existingSecret"),
        ],
        ids=["no-bucket", "no-keys"],
    )
    def test_production_refuses_to_render_without_them(
        self, tmp_path: Path, storage: str, message: str
    ) -> None:
        path = tmp_path / "values.yaml"
        path.write_text(
            'global:\n  image:\n    tag: "1.0.0"\n  publicBaseUrl: https://api.example.com\n'
            + storage
        )
        result = _render(path)
        assert result.returncode != 0
        assert message in result.stderr, result.stderr

    def test_a_development_cluster_renders_without_them(self, tmp_path: Path) -> None:
        path = tmp_path / "values.yaml"
        path.write_text('global:\n  image:\n    tag: "1.0.0"\n  environment: development\n')
        work = self._s3_env(path)["work"]
        assert "AGENCYOS_S3_BUCKET" not in work
        assert "AGENCYOS_S3_ACCESS_KEY_ID" not in work
