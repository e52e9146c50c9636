"""The merged OpenAPI tells the truth: schemathesis drives every operation of the gateway's
`/openapi.json` against the running platform and checks that no answer is a server error and
that every status code and content type it answers is documented.

schemathesis runs as its CLI (the way a person reproduces a failure locally: the command is
in the failure message), seeded and deterministic, with a small number of examples per
operation so the run stays within a few minutes on two cores. Its JUnit report names each
failing operation; the assertion lists them all.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from agencyos.common.testing.factories import signup_agency
from agencyos.common.testing.platform import Platform

pytestmark = pytest.mark.e2e

SEED = 20261204
MAX_EXAMPLES = 5
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "unsupported_method",
)
# Stateful testing follows links between operations and is not bounded by examples; the
# three phases below are: the schema's own examples, the deterministic coverage of edge values
# and unlisted methods, and seeded random fuzzing.
PHASES = "examples,coverage,fuzzing"


def schemathesis_command(
    platform: Platform, token: str, junit: Path, *, workers: int = 2
) -> list[str]:
    executable = Path(sys.executable).with_name("schemathesis")
    return [
        str(executable),
        "run",
        f"{platform.gateway_url}/openapi.json",
        "--url",
        platform.gateway_url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        PHASES,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        str(workers),
        "--request-timeout",
        "20",
        "--continue-on-failure",
        "--suppress-health-check",
        "all",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]


def failing_operations(junit: Path) -> dict[str, list[str]]:
    """Operation label → the first line of each failure schemathesis reported for it."""
    failures: dict[str, list[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = (problem.get("message") or problem.text or "").strip()
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            summary = next((line for line in lines if not line.startswith("-")), "failed")
            failures.setdefault(case.get("name", "?"), []).append(summary[:200])
    return failures


class TestOpenApiConformance:
    async def test_every_operation_answers_only_what_the_document_says(
        self, platform: Platform, gateway: httpx.AsyncClient, tmp_path: Path
    ) -> None:
        owner = await signup_agency(gateway)
        junit = tmp_path / "schemathesis.xml"
        command = schemathesis_command(platform, owner.access_token, junit)

        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()

        assert junit.exists(), output.decode(errors="replace")[-4000:]
        failures = failing_operations(junit)
        report = "\n".join(
            f"{operation}\n" + "\n".join(f"    {line}" for line in sorted(set(lines)))
            for operation, lines in sorted(failures.items())
        )
        reproduce = shlex.join(
            c if "Bearer" not in c else "Authorization: Bearer …" for c in command
        )
        assert not failures, (
            f"{len(failures)} operations answer what the OpenAPI does not say:\n{report}\n\n"
            f"reproduce with: {reproduce}"
        )
        assert process.returncode == 0, output.decode(errors="replace")[-4000:]
