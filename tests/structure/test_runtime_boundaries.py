"""What runs in production never reaches for the test harness: no runtime package depends on
agencyos-testing or pytest, and no module under a package's src/ imports either."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from agencyos.testing.platform import REPO_ROOT

TEST_ONLY = ("pytest", "agencyos.testing", "agencyos_testing")
RUNTIME_PACKAGES = sorted(
    p.parent
    for p in [
        *REPO_ROOT.glob("libs/*/pyproject.toml"),
        REPO_ROOT / "gateway" / "pyproject.toml",
        *REPO_ROOT.glob("services/*/pyproject.toml"),
    ]
    if p.parent.name != "testing"
)


def _imports(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _is_test_only(name: str) -> bool:
    return any(name == t or name.startswith(t + ".") for t in TEST_ONLY)


def test_every_runtime_package_is_checked() -> None:
    names = {p.name for p in RUNTIME_PACKAGES}
    assert {"common", "protos", "gateway", "identity", "crm", "billing"} <= names


@pytest.mark.parametrize("package", RUNTIME_PACKAGES, ids=lambda p: p.name)
def test_a_runtime_package_does_not_depend_on_the_test_harness(package: Path) -> None:
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    dependencies = [d.split("=")[0].split("[")[0].strip() for d in project["dependencies"]]

    assert not [d for d in dependencies if d in ("pytest", "agencyos-testing")]


@pytest.mark.parametrize("package", RUNTIME_PACKAGES, ids=lambda p: p.name)
def test_no_runtime_module_imports_pytest_or_the_test_harness(package: Path) -> None:
    offenders = {
        str(source.relative_to(REPO_ROOT)): sorted(n for n in _imports(source) if _is_test_only(n))
        for source in (package / "src").rglob("*.py")
        if "protos/agencyos/protos" not in source.as_posix()
    }

    assert not {path: names for path, names in offenders.items() if names}
