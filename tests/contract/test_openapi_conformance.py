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
import re
import shlex
import sys
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e

SEED = 20261204
MAX_EXAMPLES = 10
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance")
# The schema's own examples, then fuzzing (valid and invalid data alike). Not the coverage
# phase: it is not bounded by --max-examples (about 8,700 requests, ten minutes on two cores);
# its check that unlisted methods answer 405 with `Allow` is `test_unlisted_methods_...` below.
# Not stateful testing: it follows links between operations without a bound either.
PHASES = "examples,fuzzing"
METHODS = ("get", "put", "post", "patch", "delete")


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
        # The live stream answers a valid request with a body that never ends (until the
        # token expires): every such case would be a timeout. tests/e2e/realtime covers it.
        "--exclude-path",
        "/v1/stream",
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
    """Operation label → one line per failing case schemathesis reported for it: the checks
    that failed, the status received, and the URL requested."""
    failures: dict[str, list[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        for problem in [*case.iter("failure"), *case.iter("error")]:
            text = problem.text or problem.get("message") or "failed"
            for block in re.split(r"^\d+\. Test Case ID: \S+$", text, flags=re.MULTILINE):
                lines = [line.strip() for line in block.splitlines() if line.strip()]
                checks = [line[2:] for line in lines if line.startswith("- ")]
                received = [line for line in lines if line.startswith("Received:")]
                curl = [line for line in lines if line.startswith("curl ")]
                # The URL ends the curl line; the body before it may be long.
                urls = [line.rsplit(" ", 1)[-1] for line in curl[:1]]
                if checks or received:
                    summary = "; ".join([", ".join(checks), *received, *urls])
                    failures.setdefault(case.get("name", "?"), []).append(summary[:400])
            if case.get("name") not in failures:
                failures[case.get("name", "?")] = [text.strip()[:400]]
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
            cwd=tmp_path,  # schemathesis keeps a cache of failures in .schemathesis/ there
        )
        output, _ = await process.communicate()
        # thousands of events: let the consumers take them before the next test here
        await platform.wait_for_consumers()

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


class TestUnlistedMethods:
    async def test_unlisted_methods_answer_405_with_allow_naming_the_listed_ones(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        document = (await gateway.get("/openapi.json")).json()
        wrong = []
        for path, item in document["paths"].items():
            listed = sorted(m.upper() for m in item if m in METHODS)
            # An id that exists nowhere: 405 is decided by the path, before any lookup.
            url = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            for method in sorted(set(METHODS) - set(item)):
                response = await gateway.request(method.upper(), url, headers=agency.headers)
                allow = response.headers.get("allow", "")
                content_type = response.headers.get("content-type", "")
                if (
                    response.status_code != 405
                    or sorted(m.strip() for m in allow.split(",")) != listed
                    or not content_type.startswith("application/problem+json")
                ):
                    wrong.append(f"{method.upper()} {path}: {response.status_code} Allow: {allow}")

        assert not wrong, f"{len(wrong)} unlisted methods answered wrongly:\n" + "\n".join(wrong)
