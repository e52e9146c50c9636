"""A production install (global.environment: production, the default) refuses to render
without what the services would refuse to start without; the chart's list of the shared
Secret's keys stays equal to the settings each service refuses at its development default."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from .chart_support import CHART, KUBE_VERSION, RELEASE, SERVICES, helm, run

# Development secrets that are chart values rather than keys of the shared Secret: the public
# URL, the service credential, and object storage (global.objectStorage: its endpoint, and
# keys from a Secret of its own or the pod's IAM role, required in production on their own).
FROM_CHART_VALUES = {
    "public_base_url",
    "service_credential",
    "s3_endpoint_url",
    "s3_access_key_id",
    "s3_secret_access_key",
}


def _render(tmp_path: Path, values: str) -> tuple[int, str]:
    path = tmp_path / "values.yaml"
    path.write_text(values)
    result = run(
        helm(), "template", RELEASE, str(CHART), "-f", str(path), "--kube-version", KUBE_VERSION
    )
    return result.returncode, result.stderr


def _chart_keys() -> dict[str, set[str]]:
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    body = helpers.split('{{- define "agencyos.sharedSecretKeys" -}}', 1)[1]
    body = body.split("{{- end -}}", 1)[0]
    return {service: set(keys) for service, keys in yaml.safe_load(body).items()}


def _service_keys() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = {}
    for service in SERVICES:
        module = importlib.import_module(f"agencyos.{service}.settings")
        settings = next(
            value
            for value in vars(module).values()
            if isinstance(value, type) and getattr(value, "service_name", None) == service
        )
        names = set(settings.development_secrets) - FROM_CHART_VALUES
        if names:
            keys[service] = {f"AGENCYOS_{service.upper()}_{name.upper()}" for name in names}
    return keys


def test_the_charts_list_of_shared_secret_keys_is_the_services_own() -> None:
    assert _chart_keys() == _service_keys()


def test_production_without_a_public_url_is_refused_by_name(tmp_path: Path) -> None:
    code, error = _render(tmp_path, "global: {environment: production}\n")
    assert code != 0
    assert "global.publicBaseUrl is required in production" in error


def test_production_without_the_shared_secret_names_every_key_it_must_hold(
    tmp_path: Path,
) -> None:
    code, error = _render(
        tmp_path,
        "global:\n  environment: production\n  publicBaseUrl: https://api.example.com\n"
        "  secrets: {shared: ''}\n",
    )
    assert code != 0
    assert "global.secrets.shared is required in production" in error
    for keys in _chart_keys().values():
        for key in keys:
            assert key in error


@pytest.mark.parametrize(
    "values",
    [
        "global: {environment: development}\n",
        "global:\n  environment: production\n  publicBaseUrl: https://api.example.com\n"
        "  objectStorage: {bucket: files, useIamRole: true}\n",
    ],
    ids=["development", "production-complete"],
)
def test_complete_or_development_values_render(values: str, tmp_path: Path) -> None:
    code, error = _render(tmp_path, values)
    assert code == 0, error
