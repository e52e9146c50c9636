"""The two test tiers stay what they say: nothing under a service's `tests/inprocess/` asks for
the platform of processes (it would slow `make test-fast` by a platform start and hide a test
of the wrong tier), and the in-process tree mirrors the service's source tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from agencyos.testing.platform import REPO_ROOT

SERVICES_WITH_TIERS = sorted(p.parent.parent for p in REPO_ROOT.glob("services/*/tests/inprocess"))
# Fixtures that start (or need) every service and the gateway as processes.
PLATFORM_FIXTURES = {"platform", "gateway"}


def _parameters(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.update(a.arg for a in [*node.args.args, *node.args.kwonlyargs])
    return names


def _modules(service: Path) -> list[Path]:
    return sorted((service / "tests" / "inprocess").rglob("*.py"))


def test_services_have_an_in_process_tier() -> None:
    assert {p.name for p in SERVICES_WITH_TIERS} == {
        "billing",
        "crm",
        "identity",
        "notification",
        "portal",
        "time",
        "work",
    }


@pytest.mark.parametrize("service", SERVICES_WITH_TIERS, ids=lambda p: p.name)
def test_no_in_process_test_asks_for_the_platform(service: Path) -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(_parameters(path) & PLATFORM_FIXTURES)
        for path in _modules(service)
        if _parameters(path) & PLATFORM_FIXTURES
    }

    assert offenders == {}


@pytest.mark.parametrize("service", SERVICES_WITH_TIERS, ids=lambda p: p.name)
def test_in_process_test_folders_mirror_the_source_tree(service: Path) -> None:
    source = service / "src" / "agencyos" / service.name
    folders = {
        path.parent.relative_to(service / "tests" / "inprocess")
        for path in _modules(service)
        if path.name.startswith("test_")
    }

    strays = sorted(str(f) for f in folders if f != Path(".") and not (source / f).is_dir())

    assert strays == []
